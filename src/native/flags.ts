// Kernel constants that Node's fs.constants lacks, in a module that loads
// no native code, so the CLI and the client can use them too.
// O_PATH holds on every Linux arch Node runs on but alpha/parisc/sparc.
export const O_PATH = 0o10000000;
/** The dirfd argument that makes an *at() call resolve relative to the working directory. */
export const AT_FDCWD = -100;
