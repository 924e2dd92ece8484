/*
 * What an object is, recognized across copies of a module. Vitest loads a module once per project and
 * worker, and this package may be loaded from src/ and from dist/ in one process: `instanceof` then
 * answers false for an error or a reporter made by another copy of its class. Symbol.for gives every
 * copy the same symbol, so a kind marked on a class's prototype is seen by all of them.
 */

const KIND = Symbol.for('virtbench.kind');

/** The kinds of object recognized across copies: every VirtbenchError, and the reporters the plugin adds once. */
export type Kind = 'error' | 'turn-reporter' | 'virtbench-reporter';

/** Marks what the instances of a class are: call it on the class's prototype (`static { markKind(this.prototype, ...) }`). */
export function markKind(prototype: object, kind: Kind): void {
  // Inherited, non-enumerable, fixed: not in a printed error or a copied object, the same in every subclass.
  Object.defineProperty(prototype, KIND, { value: kind, enumerable: false, writable: false, configurable: false });
}

/** Whether value is of the kind, whichever copy of its module made it. */
export function isKind(value: unknown, kind: Kind): boolean {
  return typeof value === 'object' && value !== null && (value as { [KIND]?: unknown })[KIND] === kind;
}
