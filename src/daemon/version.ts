import fs from 'node:fs';
import path from 'node:path';

export function packageVersion(): string {
  for (const candidate of [path.resolve(__dirname, '../../../package.json'), path.resolve(__dirname, '../../package.json')]) {
    try {
      return (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout
    }
  }
  return 'unknown';
}

export function machineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = fs.readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) return id;
    } catch {
      // next
    }
  }
  return '0'.repeat(32);
}
