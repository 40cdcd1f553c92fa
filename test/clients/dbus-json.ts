// JSON <-> D-Bus values for the call client. Input JSON marks what plain
// JSON cannot say: {"$v": [sig, value]} is a variant, {"$fd": ...} a file
// descriptor, {"$bigint": "123"} a 64-bit integer. Output turns variants
// back into {"$v": [...]} and collects the fds of 'h' values in order.
import dbus from 'dbus-next';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseSignature } = require('dbus-next/lib/signature') as {
  parseSignature(sig: string): SigNode[];
};

export interface SigNode {
  type: string;
  child: SigNode[];
}

export type OpenFd = (spec: { path: string; mode?: string }) => number;

export function decodeBody(json: unknown, openFd: OpenFd): unknown {
  if (Array.isArray(json)) return json.map((v) => decodeBody(v, openFd));
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if ('$v' in o) {
      const [sig, value] = o.$v as [string, unknown];
      return new dbus.Variant(sig, decodeBody(value, openFd));
    }
    if ('$fd' in o) {
      if (typeof o.$fd === 'number') return o.$fd;
      return openFd({ path: String(o.$fd), mode: o.mode as string | undefined });
    }
    if ('$bigint' in o) return BigInt(String(o.$bigint));
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decodeBody(v, openFd)]));
  }
  return json;
}

/** Converts a reply body to JSON-safe values and appends every received fd to `fds`, in signature order. */
export function encodeBody(signature: string, body: unknown[], fds: number[]): unknown[] {
  const nodes = parseSignature(signature);
  return nodes.map((node, i) => encodeValue(node, body[i], fds));
}

function encodeValue(node: SigNode, value: unknown, fds: number[]): unknown {
  switch (node.type) {
    case 'h':
      fds.push(value as number);
      return value;
    case 'v': {
      const variant = value as dbus.Variant;
      const [inner] = parseSignature(variant.signature);
      return { $v: [variant.signature, encodeValue(inner, variant.value, fds)] };
    }
    case 'a': {
      const elem = node.child[0];
      if (elem.type === '{') {
        const entries = Object.entries(value as Record<string, unknown>);
        return Object.fromEntries(entries.map(([k, v]) => [k, encodeValue(elem.child[1], v, fds)]));
      }
      if (Buffer.isBuffer(value)) return [...value];
      return (value as unknown[]).map((v) => encodeValue(elem, v, fds));
    }
    case '(':
      return node.child.map((c, i) => encodeValue(c, (value as unknown[])[i], fds));
    case 'x':
    case 't': {
      const big = BigInt(value as bigint);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : String(big);
    }
    default:
      return value;
  }
}
