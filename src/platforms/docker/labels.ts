import {
  currentOwner,
  formatOwner as formatOwnerLine,
  isAlive,
  parseOwner as parseOwnerLine,
  type Owner,
  type ThisProcess,
} from '../../host/owner.js';

/*
 * Every container virtbench starts carries these labels: the session, the
 * owning process and the platform name. The owner label names the process
 * unambiguously, so that a later run can tell a dead owner from a live one:
 * jobs in host-network containers share the hostname and the kernel (boot id)
 * but not the pid namespace, and a pid alone is reused.
 */

export const SESSION_LABEL = 'virtbench.session';
export const OWNER_LABEL = 'virtbench.owner';
export const PLATFORM_LABEL = 'virtbench.platform';

export type { Owner, ThisProcess } from '../../host/owner.js';
export { startTimeFromStat, thisProcess } from '../../host/owner.js';

const OWNER = /^boot=(\S+) pidns=(\S+) pid=(\d+) start=(\d+)$/;

/** A label's value: the owner without its host name (labels keep the form every version reads). */
export function formatOwner(owner: Owner): string {
  return formatOwnerLine({ ...owner, host: undefined });
}

/** The owner a label names, or undefined for anything else (the "host:pid" labels of older versions included). */
export function parseOwner(label: string | undefined): Owner | undefined {
  return OWNER.test(label ?? '') ? parseOwnerLine(label) : undefined;
}

/**
 * Whether the process a container's owner label names is gone, judged from
 * here. Only an owner of this boot and this pid namespace can be judged: its
 * pid is then dead, or taken by a process that started at another time. Any
 * other label (another boot, another pid namespace, a label we cannot read)
 * belongs to someone whose processes we cannot see, so it is never gone: an
 * engine may be shared by several machines, whose boots a label cannot tell
 * from this machine's earlier ones. Labels of versions before boot and
 * namespace were recorded ("host:pid") are of that kind too: such containers
 * are left for their owner or the user.
 */
export function ownerIsGone(label: string | undefined, here: ThisProcess): boolean {
  const owner = parseOwner(label);
  return owner !== undefined && owner.bootId === here.bootId && !isAlive(owner, here);
}

/** This process's owner label value. */
export function ownerValue(): string {
  return formatOwner(currentOwner());
}

/** The label filter that matches every container this process started. */
export function ownedByThisProcess(): string {
  return `${OWNER_LABEL}=${ownerValue()}`;
}
