import { InvalidArgument } from '../errors';

const NAME_MAX = 255;

/** A name the daemon creates inside a caller's directory: exactly one path component. */
export function validateComponentName(name: unknown, argument: string): string {
  if (typeof name !== 'string') throw new InvalidArgument(argument, 'must be a string');
  if (name.length === 0) throw new InvalidArgument(argument, 'must not be empty');
  if (name.includes('\0')) throw new InvalidArgument(argument, 'must not contain NUL');
  if (name.includes('/')) throw new InvalidArgument(argument, 'must be a single path component (no "/")');
  if (name === '.' || name === '..') throw new InvalidArgument(argument, `must not be "${name}"`);
  // The kernel's limit is in bytes, not UTF-16 units.
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) {
    throw new InvalidArgument(argument, `must be at most ${NAME_MAX} bytes long`);
  }
  return name;
}
