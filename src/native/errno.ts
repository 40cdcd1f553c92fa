import os from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

/** "EPERM" for 1; "errno 4095" for anything unknown. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

export const Errno = os.constants.errno;
