import { hostname } from 'node:os';

/*
 * Every container virtbench starts carries these labels: the session, the
 * owning process (host:pid, so a later run can tell a dead owner from a live
 * one) and the platform name.
 */

export const SESSION_LABEL = 'virtbench.session';
export const OWNER_LABEL = 'virtbench.owner';
export const PLATFORM_LABEL = 'virtbench.platform';

export function ownerValue(): string {
  return `${hostname()}:${process.pid}`;
}

/** The label filter that matches every container this process started. */
export function ownedByThisProcess(): string {
  return `${OWNER_LABEL}=${ownerValue()}`;
}
