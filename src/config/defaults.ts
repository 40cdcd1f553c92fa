import type { Config } from './types';

export const DEFAULT_CONFIG_FILE = '/etc/nsmountd/nsmountd.conf';

/** A fresh copy each call, so callers may modify what they get. */
export function defaultConfig(): Config {
  return {
    daemon: { stateDir: '/run/nsmountd', logLevel: 'info', idleTimeoutSec: 0, registryLockTimeoutSec: 10, callsPerUid: 128, ioTimeoutSec: 30, ioCallsPerUid: 4 },
    // 0x00080000..0x6FFFFFFF is systemd's range for container IDs (UIDS-GIDS.md):
    // above what useradd hands out, below the foreign range 0x7FFE0000. Other
    // allocators (systemd-nspawn --private-users=pick) draw from it too.
    pool: { first: 524288, last: 1879048191, quotaPerUid: 256, reclaimIntervalSec: 30, reuseAcrossUsers: false, setgroups: 'allow' },
    images: { directories: ['/var/lib/machines', '/var/lib/nsmountd/images', '/usr/lib/nsmountd/images'] },
    // Each attachment is a mount in the host namespace, and fs.mount-max
    // is shared by everyone.
    mounts: { attachmentsPerUid: 256 },
  };
}
