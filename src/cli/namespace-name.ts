// Names for the namespaces nsmountctl allocates for one command: readable in
// "nsmountctl status", unique per caller so parallel runs never collide.
import crypto from 'node:crypto';

export function transientNamespaceName(command: string): string {
  return `nsmountctl-${command}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
}
