// An errno in words a person can read, for the message of a System error.
// The errno name itself stays in the daemon's log, never in the reply.
const WORDS: Record<string, string> = {
  EACCES: 'permission was denied',
  EPERM: 'the system did not permit it',
  EROFS: 'the file system is read-only',
  ENOSPC: 'there is no space left on the device',
  EDQUOT: 'your disk quota is used up',
  EBUSY: 'something is still using it',
  ENOENT: 'a file or directory it needs does not exist (any more)',
  ENOTDIR: 'a path that should be a directory is not one',
  EISDIR: 'a path that should be a file is a directory',
  EEXIST: 'something of that name already exists',
  ENOTEMPTY: 'a directory is not empty',
  ENOMEM: 'the system is out of memory',
  EMFILE: 'nsmountd has too many files open',
  ENFILE: 'the system has too many files open',
  EAGAIN: 'the system is out of a resource for the moment',
  EINTR: 'it was interrupted',
  EIO: 'the device reported an input/output error',
  ENXIO: 'the device is gone',
  ENODEV: 'the device or file system is not available',
  ENOSYS: 'the running kernel does not support it',
  EOPNOTSUPP: 'the running kernel or file system does not support it',
  EINVAL: 'the kernel refused it as invalid',
  EOVERFLOW: 'a value was too large',
  ELOOP: 'there are too many symbolic links in a path',
  ENAMETOOLONG: 'a name is too long',
  EXDEV: 'it would cross from one file system to another',
  ETIMEDOUT: 'it timed out',
  ESTALE: 'a file it used was removed meanwhile',
  EBADF: 'a file it used was closed meanwhile',
};

/** "EROFS" -> "the file system is read-only"; an errno with no words here gets a general phrase. */
export function errnoWords(code: string): string {
  return WORDS[code] ?? 'the system reported an unexpected error';
}
