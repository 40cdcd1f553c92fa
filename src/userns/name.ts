import { InvalidArgument } from '../errors';
import { BLOCK_SIZE } from './block';

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function validateNamespaceName(name: string, argument = 'name'): string {
  if (name.length === 0) throw new InvalidArgument(argument, 'must not be empty');
  if (name.length > 64) throw new InvalidArgument(argument, `must be at most 64 characters, got ${name.length}`);
  if (!NAME_PATTERN.test(name)) throw new InvalidArgument(argument, 'may only contain A-Z a-z 0-9 . _ -');
  return name;
}

/** 0 means a whole block; anything above 65536 does not fit one block. */
export function validateNamespaceSize(size: number, argument = 'size'): number {
  if (!Number.isInteger(size) || size < 0 || size > BLOCK_SIZE) {
    throw new InvalidArgument(argument, `must be 1..${BLOCK_SIZE} (0 means ${BLOCK_SIZE}), got ${size}`);
  }
  return size === 0 ? BLOCK_SIZE : size;
}
