// The foreign UID range: 64K ids reserved for files that belong to
// container or portable-home trees, so that on-disk ownership never
// collides with a real host user. Same numbers as systemd's.
export const FOREIGN_UID_BASE = 2147352576; // 0x7FFE0000
export const FOREIGN_UID_COUNT = 65536;

export function isForeignId(id: number): boolean {
  return id >= FOREIGN_UID_BASE && id < FOREIGN_UID_BASE + FOREIGN_UID_COUNT;
}
