import dbus from 'dbus-next';
import type { PropertySource } from '../bus/standard-interfaces';
import type { Feature } from './features';
import { FOREIGN_UID_BASE, FOREIGN_UID_COUNT } from '../idmap/foreign-range';

export function managerProperties(opts: { version: string; features: Feature[]; warnings?: string[] }): PropertySource {
  const all = {
    Version: new dbus.Variant('s', opts.version),
    Features: new dbus.Variant('as', [...opts.features]),
    Warnings: new dbus.Variant('as', [...(opts.warnings ?? [])]),
    ForeignUidBase: new dbus.Variant('u', FOREIGN_UID_BASE),
    ForeignUidCount: new dbus.Variant('u', FOREIGN_UID_COUNT),
  };
  return { all: () => all };
}
