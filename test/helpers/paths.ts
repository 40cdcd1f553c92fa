// Locations in the source tree, from compiled tests in dist/test/helpers/.
import path from 'node:path';

export const PACKAGE_ROOT = path.resolve(__dirname, '../../..');
export const NSMOUNTD_BIN = path.join(PACKAGE_ROOT, 'bin/nsmountd');
export const BUS_POLICY = path.join(PACKAGE_ROOT, 'dbus/org.nsmount.NsMount1.conf');
export const POLKIT_ACTIONS = path.join(PACKAGE_ROOT, 'polkit/org.nsmount.policy');
export const FIXTURES = path.join(PACKAGE_ROOT, 'test/fixtures');
/** The compiled D-Bus call client (test/clients/call.ts). */
export const CALL_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/call.js');

export const SERVICE_NAME = 'org.nsmount.NsMount1';
export const SERVICE_PATH = '/org/nsmount/NsMount1';
export const MANAGER_INTERFACE = 'org.nsmount.NsMount1.Manager';
