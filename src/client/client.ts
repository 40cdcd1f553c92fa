// Typed calls to org.nsmount.NsMount1.Manager over a connection that really
// passes fds (src/bus/connection.ts). Signatures follow
// dbus/org.nsmount.NsMount1.Manager.xml; every fd in a reply is wrapped in
// an OwnedFd at once, so none leaks when a later step throws.
import dbus from 'dbus-next';
import { connectBus, resolveBusAddress, type MessageBus } from '../bus/connection';
import { callBus, BusCallError } from '../bus/bus-call';
import { OwnedFd, fdNumber, type FdLike } from './owned-fd';
import { errorFromDBus } from './errors';
import { BUS_NAME, OBJECT_PATH, MANAGER_INTERFACE, ALLOW_INTERACTIVE_AUTHORIZATION } from '../bus/names';
import type {
  AllocatedUserNamespace,
  CallOptions,
  IdmapOptions,
  ManagerProperties,
  MountedPartition,
  MountInfo,
  MountOptions,
  UserNamespaceInfo,
} from './types';

export { BUS_NAME, OBJECT_PATH, MANAGER_INTERFACE, ALLOW_INTERACTIVE_AUTHORIZATION };

export interface ConnectOptions {
  /** D-Bus address; default $DBUS_SYSTEM_BUS_ADDRESS, then the system bus. */
  address?: string;
  /** Default for every call: let polkit ask for authentication. */
  interactive?: boolean;
  timeoutMs?: number;
}

const variant = (signature: string, value: unknown) => new dbus.Variant(signature, value);

/** Builds an a{sv} from the options that are set. */
function options(entries: Array<[string, string, unknown]>): Record<string, dbus.Variant> {
  const out: Record<string, dbus.Variant> = {};
  for (const [key, signature, value] of entries) if (value !== undefined) out[key] = variant(signature, value);
  return out;
}

function optionalFd(fd: FdLike | undefined): number | undefined {
  return fd === undefined ? undefined : fdNumber(fd);
}

export class NsMountClient {
  readonly address: string;

  constructor(
    readonly bus: MessageBus,
    address: string,
    private readonly interactiveDefault: boolean,
  ) {
    this.address = address;
  }

  private async call(member: string, signature: string, body: unknown[], opts: CallOptions = {}): Promise<unknown[]> {
    const interactive = opts.interactive ?? this.interactiveDefault;
    try {
      return await callBus(this.bus, {
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: MANAGER_INTERFACE,
        member,
        signature,
        body,
        flags: interactive ? ALLOW_INTERACTIVE_AUTHORIZATION : 0,
      });
    } catch (err) {
      if (err instanceof BusCallError) throw errorFromDBus(err.errorName, err.message);
      throw err;
    }
  }

  async allocateUserNamespace(name: string, opts: CallOptions & { size?: number } = {}): Promise<AllocatedUserNamespace> {
    const [fd, base, size] = (await this.call('AllocateUserNamespace', 'sua{sv}', [name, opts.size ?? 0, {}], opts)) as [number, number, number];
    return { userNamespace: new OwnedFd(fd), base, size };
  }

  async listUserNamespaces(opts: CallOptions = {}): Promise<UserNamespaceInfo[]> {
    const [rows] = (await this.call('ListUserNamespaces', 'a{sv}', [{}], opts)) as [Array<[string, number, number, number, bigint, bigint]>];
    return rows.map(([name, ownerUid, base, size, namespaceId, createdUsec]) => ({
      name,
      ownerUid,
      base,
      size,
      namespaceId: BigInt(namespaceId),
      createdUsec: BigInt(createdUsec),
    }));
  }

  /** A foreign-owned directory `name` in `parent` (a directory fd of the caller's). */
  async makeDirectory(parent: FdLike, name: string, opts: CallOptions & { mode?: number } = {}): Promise<OwnedFd> {
    const [fd] = (await this.call('MakeDirectory', 'hsa{sv}', [fdNumber(parent), name, options([['Mode', 'u', opts.mode]])], opts)) as [number];
    return new OwnedFd(fd);
  }

  /** An idmapped mount of `directory`: detached unless `attachTo` is given. */
  async idmapDirectory(directory: FdLike, opts: IdmapOptions = {}): Promise<OwnedFd> {
    const body = options([
      ['UserNamespace', 'h', optionalFd(opts.userNamespace)],
      ['Mode', 's', opts.mode],
      ['ReadOnly', 'b', opts.readOnly],
      ['Recursive', 'b', opts.recursive],
      ['AttachTo', 'h', optionalFd(opts.attachTo)],
    ]);
    const [fd] = (await this.call('IdmapDirectory', 'ha{sv}', [fdNumber(directory), body], opts)) as [number];
    return new OwnedFd(fd);
  }

  /** Detaches a mount nsmountd attached; `mountPoint` is an fd of its root. */
  async unmount(mountPoint: FdLike, opts: CallOptions = {}): Promise<void> {
    await this.call('Unmount', 'ha{sv}', [fdNumber(mountPoint), {}], opts);
  }

  async listMounts(opts: CallOptions = {}): Promise<MountInfo[]> {
    const [rows] = (await this.call('ListMounts', 'a{sv}', [{}], opts)) as [Array<[string, number, string, string, bigint]>];
    return rows.map(([target, ownerUid, source, kind, mountId]) => ({ target, ownerUid, source, kind, mountId: BigInt(mountId) }));
  }

  async mount(image: FdLike, opts: MountOptions = {}): Promise<MountedPartition[]> {
    const body = options([
      ['ReadOnly', 'b', opts.readOnly],
      ['UserNamespace', 'h', optionalFd(opts.userNamespace)],
      ['Partitions', 'as', opts.partitions],
      ['AttachTo', 'h', optionalFd(opts.attachTo)],
      ['MountOptions', 's', opts.mountOptions],
      ['Mode', 's', opts.mode],
    ]);
    const [rows] = (await this.call('Mount', 'ha{sv}', [fdNumber(image), body], opts)) as [
      Array<[string, string, string, string, bigint, bigint, boolean, number]>,
    ];
    return rows.map(([designator, fstype, uuid, label, offset, size, readOnly, fd]) => ({
      designator,
      fstype,
      uuid,
      label,
      offset: BigInt(offset),
      size: BigInt(size),
      readOnly,
      mount: new OwnedFd(fd),
    }));
  }

  async properties(): Promise<ManagerProperties> {
    let all: Record<string, { value: unknown }>;
    try {
      [all] = (await callBus(this.bus, {
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'GetAll',
        signature: 's',
        body: [MANAGER_INTERFACE],
      })) as [Record<string, { value: unknown }>];
    } catch (err) {
      if (err instanceof BusCallError) throw errorFromDBus(err.errorName, err.message);
      throw err;
    }
    return {
      version: all.Version?.value as string,
      features: (all.Features?.value as string[]) ?? [],
      warnings: (all.Warnings?.value as string[]) ?? [],
      foreignUidBase: all.ForeignUidBase?.value as number,
      foreignUidCount: all.ForeignUidCount?.value as number,
    };
  }

  close(): void {
    this.bus.disconnect();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export async function connect(opts: ConnectOptions = {}): Promise<NsMountClient> {
  const address = resolveBusAddress(opts.address);
  const bus = await connectBus({ address, timeoutMs: opts.timeoutMs });
  // A dropped connection fails the pending calls; it must not crash the process.
  bus.on('error', () => {});
  return new NsMountClient(bus, address, opts.interactive ?? false);
}
