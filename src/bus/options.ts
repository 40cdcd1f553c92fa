// Strict a{sv} validation shared by every method: each key must be known
// and carry exactly the declared variant type. Errors name the key.
import { InvalidArgument } from '../errors';

export type OptionType = 'b' | 's' | 'u' | 'h' | 'as' | 't' | 'i';

type ValueOf<T extends OptionType> = T extends 'b'
  ? boolean
  : T extends 's'
    ? string
    : T extends 'u' | 'h' | 'i'
      ? number
      : T extends 't'
        ? bigint
        : T extends 'as'
          ? string[]
          : never;

export type OptionSchema = Record<string, OptionType>;
export type ParsedOptions<S extends OptionSchema> = { [K in keyof S]?: ValueOf<S[K]> };

interface VariantLike {
  signature: string;
  value: unknown;
}

function isVariant(v: unknown): v is VariantLike {
  return typeof v === 'object' && v !== null && 'signature' in v && 'value' in v;
}

/**
 * Validates a decoded a{sv}. `argument` is the D-Bus argument name used in
 * messages ("options"); keys are reported as "options.Key".
 */
export function parseOptions<S extends OptionSchema>(
  raw: unknown,
  schema: S,
  argument = 'options',
): ParsedOptions<S> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidArgument(argument, 'expected a dictionary a{sv}');
  }
  const known = Object.keys(schema);
  const hint = known.length ? `known keys: ${known.join(', ')}` : 'this method takes no option keys yet';
  // dbus-next decodes a dict into a plain object, where a key "__proto__"
  // becomes the prototype rather than an entry; the entries below would skip it.
  if (Object.getPrototypeOf(raw) !== Object.prototype) {
    throw new InvalidArgument(`${argument}.__proto__`, `unknown option key (${hint})`);
  }
  const result: Record<string, unknown> = {};
  for (const [key, variant] of Object.entries(raw as Record<string, unknown>)) {
    const expected = Object.prototype.hasOwnProperty.call(schema, key) ? schema[key] : undefined;
    if (expected === undefined) {
      throw new InvalidArgument(`${argument}.${key}`, `unknown option key (${hint})`);
    }
    if (!isVariant(variant) || variant.signature !== expected) {
      const got = isVariant(variant) ? variant.signature : typeof variant;
      throw new InvalidArgument(`${argument}.${key}`, `expected a variant of type '${expected}', got '${got}'`);
    }
    result[key] = variant.value;
  }
  return result as ParsedOptions<S>;
}
