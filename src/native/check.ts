import { SystemError } from '../errors';

/** Native functions return -errno on failure; turn that into a SystemError naming the operation. */
export function check(ret: number, operation: string): number {
  if (ret < 0) throw new SystemError(-ret, operation);
  return ret;
}
