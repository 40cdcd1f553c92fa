// The commented nsmountd.conf that install-system puts in /etc. Generated
// from defaultConfig() so the documented defaults cannot drift from the real
// ones.
import { defaultConfig } from './defaults';
import { IO_CALLS_TOTAL } from '../native/threadpool';
import { LOG_LEVELS } from './types';

const toml = (value: string | number | boolean | string[]): string =>
  Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(', ')}]` : JSON.stringify(value);

export function exampleConfigText(): string {
  const d = defaultConfig();
  return `# nsmountd configuration. Every setting is shown commented out with its
# default. Files in nsmountd.conf.d/*.conf are read after this one in lexical
# order; a later file wins key by key. The daemon checks everything at
# start-up and refuses to run on an unknown key or a bad value.

[daemon]
# Records of allocated ranges and mounts. Must survive daemon restarts
# (the namespaces and mounts do), so keep it on /run, not in a private tmp.
#state_dir = ${toml(d.daemon.stateDir)}

# One of ${LOG_LEVELS.join(', ')}.
#log_level = ${toml(d.daemon.logLevel)}

# Exit after this many seconds without calls; D-Bus activation restarts the
# daemon on the next call. 0 = never exit.
#idle_timeout_sec = ${toml(d.daemon.idleTimeoutSec)}

# Seconds a call waits for the registry lock while another process holds
# it, before it fails with Unavailable. The daemon goes on answering
# everything else meanwhile.
#registry_lock_timeout_sec = ${toml(d.daemon.registryLockTimeoutSec)}

# Manager calls one user (other than root) may have in flight at once, over
# all its connections; one more is refused with QuotaExceeded. Each call in
# flight holds the fds it brought and a polkit check, so one user cannot
# tie up the daemon for everyone else.
#calls_per_uid = ${toml(d.daemon.callsPerUid)}

# Seconds a call waits for a caller's file: the image Mount reads (its
# partition table, its file systems) and mounts. A file on a FUSE or
# network file system whose server does not answer would hold the call
# forever; past this it fails with Unavailable, having made nothing, and
# the daemon answers everyone else meanwhile.
#io_timeout_sec = ${toml(d.daemon.ioTimeoutSec)}

# That work runs off the daemon's main thread, on at most ${IO_CALLS_TOTAL} threads
# for all users together. A thread stuck with a server that never answers
# stays stuck until the server answers (or its connection is aborted), so
# one user may hold at most this many at once: a further call of that user
# waits for one of them (up to io_timeout_sec), or fails at once with
# QuotaExceeded while all of them are stuck; other users are not held up.
# At most ${IO_CALLS_TOTAL}.
#io_calls_per_uid = ${toml(d.daemon.ioCallsPerUid)}

[pool]
# Host user/group IDs handed out to user namespaces, in blocks of 65536.
# first must be a multiple of 65536 and at least 65536; last is inclusive,
# at most 4294967294. The pool must not overlap the foreign range
# 2147352576..2147418111 and should not overlap IDs used for anything else.
#first = ${toml(d.pool.first)}
#last = ${toml(d.pool.last)}

# How many user namespaces one calling user may hold at once.
#quota_per_uid = ${toml(d.pool.quotaPerUid)}

# Seconds between sweeps that take back the ranges of namespaces that are gone.
#reclaim_interval_sec = ${toml(d.pool.reclaimIntervalSec)}

# A namespace can leave files owned by its host IDs wherever it may write,
# e.g. a setuid copy of a shell in /tmp. So a block once handed to a user is
# only ever handed to that same user again, and a user whose former blocks
# are all that is left gets RangeExhausted. The risk of true: the user who
# held a block before keeps what its namespaces left behind, and through it
# becomes root in the containers of whoever gets the block next. Only turn
# it on where all users trust each other. Who held which block is kept in
# state_dir: on a tmpfs (/run) it is forgotten at reboot, while leftovers on
# disk stay; keep state_dir on disk where that matters.
#reuse_across_users = ${toml(d.pool.reuseAcrossUsers)}

# Written to /proc/PID/setgroups of every new namespace: "allow" or "deny".
# "allow" lets the namespace's owner call setgroups() inside it, which
# containers need to give their own users supplementary groups. The price,
# the same as newgidmap with a delegated subgid range: the owner can drop a
# supplementary group it has on the host, and so read a file whose group
# permissions exist to keep that group out (e.g. mode 0604, group
# "no-games"). "deny" closes that; setgroups() inside then fails with EPERM.
#setgroups = ${toml(d.pool.setgroups)}

[images]
# Images inside these directories are trusted (polkit action
# org.nsmount.mount-image); any other image needs
# org.nsmount.mount-image-untrusted.
#directories = ${toml(d.images.directories)}

[mounts]
# How many attachments (AttachTo of IdmapDirectory and Mount) one calling
# user may hold at once; past it a call gets QuotaExceeded. Each one is a
# mount in the host's mount namespace, and the kernel's fs.mount-max is
# shared by all. Root is not limited.
#attachments_per_uid = ${toml(d.mounts.attachmentsPerUid)}
`;
}
