// Which NSS sources may hold users and groups nsmountd cannot list. The
// pool is kept clear of every id NSS enumerates, but sssd or LDAP with
// enumeration off, winbind or mymachines list nobody, and the lookups made
// per block (exclusions.ts) only ask two ids of each. So a site with such
// sources is told, at start-up and in the Warnings property.
import fs from 'node:fs';
import type { PoolRange } from './block';

/** Local sources that enumerate every entry they have. */
const ENUMERATING = new Set(['files', 'compat', 'db', 'extrausers', 'systemd']);

/** The sources nsswitch.conf names for passwd and group, in order, without [ACTION] items. */
export function passwdGroupSources(text: string): string[] {
  const sources: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(passwd|group)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const word of m[2].replace(/\[[^\]]*\]/g, ' ').split(/\s+/)) {
      if (word && !sources.includes(word)) sources.push(word);
    }
  }
  return sources;
}

/** The warning for nsswitch.conf's text, or undefined when every source enumerates. */
export function nsswitchWarning(text: string, pool: PoolRange, file = '/etc/nsswitch.conf'): string | undefined {
  const others = passwdGroupSources(text).filter((s) => !ENUMERATING.has(s));
  if (others.length === 0) return undefined;
  return (
    `${file} names ${others.join(', ')} for passwd or group: such sources may hold users or groups that ` +
    `are not enumerated, with ids in the pool ${pool.first}..${pool.last}; nsmountd looks up the first and last ` +
    'id of each block before handing it out but cannot see the others. Move the pool (pool.first, pool.last) ' +
    'clear of their id ranges'
  );
}

/** Reads the file; an unreadable one is a warning too, since nobody can tell which sources are in use. */
export function nsswitchWarningOfFile(pool: PoolRange, file = '/etc/nsswitch.conf'): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // glibc's defaults: files only
    return `${file} cannot be read (${(err as NodeJS.ErrnoException).code}), so the NSS sources in use are unknown`;
  }
  return nsswitchWarning(text, pool, file);
}
