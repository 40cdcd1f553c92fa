// Which received messages are worth decoding, known from the header alone.
// dbus-next decodes a body on the only thread, and a peer picks the body:
// one 28 MB array of variants sent to ListMounts held the daemon for over a
// minute and grew it to 4 GiB, only to be refused for its signature. So a
// call's body is decoded only when the dispatcher would read it: the
// signature is the one the called member takes and the body is of a size
// no real call needs more than. Everything else is answered from the header.
import { MANAGER_INTERFACE, OBJECT_PATH } from './names';
import { INTROSPECTABLE, PEER, PROPERTIES, PROPERTY_SIGNATURES } from './standard-interfaces';
import type { AnyMethodDefinition } from './method';

/** Far above what any member needs (names, a path, an a{sv} of a few keys), far below what hurts. */
export const MAX_CALL_BODY_BYTES = 64 * 1024;

export interface CallHeader {
  path?: string;
  interface?: string;
  member?: string;
  signature?: string;
}

export interface Routes {
  methods: ReadonlyMap<string, AnyMethodDefinition>;
  /** Whether Introspect answers at `path`. */
  introspectable(path: string): boolean;
}

/**
 * The signature the dispatcher accepts for this call, or undefined when it
 * refuses the call whatever the body (no such object, interface or member).
 * Must agree with Dispatcher.route.
 */
export function acceptedSignature(header: CallHeader, routes: Routes): string | undefined {
  const { interface: iface, member } = header;
  const path = header.path ?? '';
  if (iface === PEER) return member === 'Ping' || member === 'GetMachineId' ? '' : undefined;
  if (iface === INTROSPECTABLE || (!iface && member === 'Introspect')) {
    return member === 'Introspect' && routes.introspectable(path) ? '' : undefined;
  }
  if (path !== OBJECT_PATH) return undefined;
  if (iface === PROPERTIES) return Object.prototype.hasOwnProperty.call(PROPERTY_SIGNATURES, member ?? '') ? PROPERTY_SIGNATURES[member!] : undefined;
  if (iface && iface !== MANAGER_INTERFACE) return undefined;
  return routes.methods.get(member ?? '')?.inSignature;
}

export type BodyVerdict = 'read' | 'not-needed' | 'too-large';

/** Whether a call's body is decoded: only when the signature is the accepted one and the size sane. */
export function callBodyVerdict(header: CallHeader, bodyLength: number, routes: Routes): BodyVerdict {
  if ((header.signature ?? '') !== acceptedSignature(header, routes)) return 'not-needed';
  return bodyLength > MAX_CALL_BODY_BYTES ? 'too-large' : 'read';
}
