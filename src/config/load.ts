// Reads /etc/nsmountd/nsmountd.conf and its drop-ins over the defaults.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG_FILE, defaultConfig } from './defaults';
import { ConfigError, ConfigErrorLocation } from './error';
import { readLayer, SettingValue } from './layer';
import { checkPoolRange, PoolOrigins } from './pool-range';
import type { Config } from './types';

export interface LoadConfigOptions {
  /** Main file; default /etc/nsmountd/nsmountd.conf. Missing is fine only for the default. */
  file?: string;
  /** Drop-in directory; default `${file}.d`. Missing is fine. */
  dropInDir?: string;
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** The file's text, or undefined when it does not exist and that is allowed. */
function readOptional(file: string, mustExist: boolean): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' && !mustExist) return undefined;
    throw new ConfigError({ file }, `cannot read: ${(err as Error).message}`);
  }
}

/**
 * *.conf files in lexical (byte) order, so "10-x.conf" < "50-y.conf" as with
 * systemd drop-ins. Dotfiles are skipped: editors leave ".#x.conf" behind.
 */
function dropIns(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return [];
    throw new ConfigError({ file: dir }, `cannot list drop-ins: ${(err as Error).message}`);
  }
  return names
    .filter((n) => n.endsWith('.conf') && !n.startsWith('.'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((n) => join(dir, n));
}

function apply(config: Config, setting: SettingValue): void {
  (config[setting.section] as Record<string, unknown>)[setting.prop] = setting.value;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const file = opts.file ?? DEFAULT_CONFIG_FILE;
  const config = defaultConfig();
  const origins: PoolOrigins = {};
  const files = [file, ...dropIns(opts.dropInDir ?? `${file}.d`)];
  files.forEach((path, index) => {
    const text = readOptional(path, index === 0 ? opts.file !== undefined : true);
    if (text === undefined) return;
    for (const setting of readLayer(text, path)) {
      apply(config, setting);
      if (setting.section === 'pool' && (setting.prop === 'first' || setting.prop === 'last')) {
        const where: ConfigErrorLocation = setting.where;
        origins[setting.prop] = where;
        origins.later = where;
      }
    }
  });
  checkPoolRange(config.pool, origins);
  return config;
}
