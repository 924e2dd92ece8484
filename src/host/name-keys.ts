/*
 * Objects keyed by names users give: benchmarks, platforms, remote hosts, units. A plain `{}` inherits
 * "constructor", "toString" and the "__proto__" accessor from Object.prototype: `table[name]` can
 * return a method for a name nobody set, and `table[name] = value` for "__proto__" sets (or ignores)
 * the prototype instead of storing a key. A record made here has no prototype, and a lookup reads
 * own keys only, so every name is a key like any other. Where nothing is serialized, a Map does as well.
 */

/** An empty record without a prototype: "__proto__", "constructor" and "toString" are keys like any other. */
export function nameRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** record[name] when name is the record's own key: never a method inherited from Object.prototype. */
export function ownEntry<T>(record: Readonly<Record<string, T>> | undefined, name: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined;
}
