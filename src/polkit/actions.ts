// Every polkit action nsmountd asks about, named once. Methods choose among
// these; polkit/org.nsmount.policy declares the same ids (a test holds the
// two together), and the texts that explain a refusal are keyed by them.
export const ACTIONS = {
  allocateUserNamespace: 'org.nsmount.allocate-user-namespace',
  makeDirectory: 'org.nsmount.make-directory',
  idmapDirectory: 'org.nsmount.idmap-directory',
  idmapDirectoryUntrusted: 'org.nsmount.idmap-directory-untrusted',
  unmountOthers: 'org.nsmount.unmount-others',
  mountImage: 'org.nsmount.mount-image',
  mountImageUntrusted: 'org.nsmount.mount-image-untrusted',
} as const;

export type ActionId = (typeof ACTIONS)[keyof typeof ACTIONS];
