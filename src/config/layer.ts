// One configuration file, parsed and checked on its own so that every
// problem can be blamed on the file and line that caused it.
import { parse, TomlError } from 'smol-toml';
import { ConfigError, ConfigErrorLocation } from './error';
import { findKey } from './positions';
import { SCHEMA } from './schema';
import type { Config } from './types';

export interface SettingValue {
  section: keyof Config;
  prop: string;
  value: unknown;
  /** For blaming this setting in errors found later (e.g. pool.first >= pool.last). */
  where: ConfigErrorLocation;
}

const SECTIONS = Object.keys(SCHEMA) as (keyof Config)[];

function locate(text: string, file: string, section: string, key?: string): ConfigErrorLocation {
  const position = findKey(text, section, key);
  return { file, line: position?.line, key: key === undefined ? section : `${section}.${key}` };
}

function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    // Integers as bigint: the only way to tell 1 from 1.0 after parsing.
    return parse(text, { integersAsBigInt: true });
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError({ file, line: err.line, column: err.column }, `invalid TOML: ${reason}`);
    }
    throw err;
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function readLayer(text: string, file: string): SettingValue[] {
  const doc = parseToml(text, file);
  const out: SettingValue[] = [];
  for (const [name, table] of Object.entries(doc)) {
    if (!(SECTIONS as string[]).includes(name)) {
      throw new ConfigError(
        locate(text, file, name),
        `unknown section; expected ${SECTIONS.map((s) => `[${s}]`).join(', ')}`,
      );
    }
    const section = name as keyof Config;
    if (!isTable(table)) throw new ConfigError(locate(text, file, name), 'must be a table');
    const settings = SCHEMA[section];
    for (const [key, raw] of Object.entries(table)) {
      const where = locate(text, file, section, key);
      const setting = Object.hasOwn(settings, key) ? settings[key] : undefined;
      if (!setting) {
        throw new ConfigError(where, `unknown key; expected one of ${Object.keys(settings).join(', ')}`);
      }
      const checked = setting.check(raw);
      if (!checked.ok) throw new ConfigError(where, checked.problem);
      out.push({ section, prop: setting.prop, value: checked.value, where });
    }
  }
  return out;
}
