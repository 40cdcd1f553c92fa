// smol-toml returns plain values without positions, so a bad setting is
// located by scanning the text for its key. That covers the flat
// `[section]` / `key = value` layout (and top-level `section.key = value`);
// for anything fancier, such as inline tables, it falls back to where the
// section is introduced, then to no position at all.

export interface Position {
  line: number;
  column: number;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A bare or quoted TOML key. */
function keyPattern(name: string): string {
  const e = escape(name);
  return `(?:${e}|"${e}"|'${e}')`;
}

/** The table a `[section]` or `[[section]]` header line opens, if it is one. */
function headerOf(line: string): string | undefined {
  const m = /^\s*\[\[?([^\]]+)\]\]?\s*(?:#.*)?$/.exec(line);
  return m ? m[1].split('.').map((part) => part.trim().replace(/^["']|["']$/g, '')).join('.') : undefined;
}

/** Where `section.key` is assigned, or where `section` is introduced when key is omitted. */
export function findKey(text: string, section: string, key?: string): Position | undefined {
  const s = keyPattern(section);
  const inTable = key === undefined ? undefined : new RegExp(`^(\\s*)${keyPattern(key)}\\s*=`);
  const atTop =
    key === undefined
      ? new RegExp(`^(\\s*)${s}\\s*[=.]`)
      : new RegExp(`^(\\s*)${s}\\s*\\.\\s*${keyPattern(key)}\\s*=`);
  const lines = text.split(/\r?\n/);
  let current = '';
  for (let i = 0; i < lines.length; i++) {
    const header = headerOf(lines[i]);
    if (header !== undefined) {
      current = header;
      if (key === undefined && header === section) return { line: i + 1, column: lines[i].indexOf('[') + 1 };
      continue;
    }
    const m = (current === section && inTable?.exec(lines[i])) || (current === '' && atTop.exec(lines[i]));
    if (m) return { line: i + 1, column: m[1].length + 1 };
  }
  return key === undefined ? undefined : findKey(text, section);
}
