/**
 * A map for the gateway's per-connection bookkeeping (tunnels by id, connections waiting for a
 * decision, counts per client): entries come and go at the rate connections do. An open-
 * addressing table in two arrays (linear probing, at most half full, deletion by moving later
 * entries back instead of leaving markers), grown and shrunk by copying into new arrays.
 *
 * Not a Map, for the reason registry.ts gives for not using a Set: V8 replaces a Map's table
 * whenever insertions and deletions have filled it, and the replaced table keeps its entries
 * and a pointer to its successor; once the live table is in the old generation, each replaced
 * table keeps the next one, and everything its entries pointed to, alive through the
 * young-generation collections, for as long as the gateway runs.
 *
 * Keys that clients choose (their addresses) must not be able to pile up in one run of the
 * table: the hash is seeded with a random value per process, as V8 seeds its own.
 */
export class SlotMap<K extends string | number, V> {
  private keys: (K | undefined)[];
  private vals: (V | undefined)[];
  private mask: number;
  private count = 0;
  /** The table never shrinks below this (a power of two). */
  private readonly minCapacity: number;

  constructor(minCapacity = 16) {
    const capacity = powerOfTwo(Math.max(4, minCapacity));
    this.minCapacity = capacity;
    this.keys = new Array<K | undefined>(capacity).fill(undefined);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  get(key: K): V | undefined {
    const at = this.find(key);
    return at === -1 ? undefined : this.vals[at];
  }

  has(key: K): boolean {
    return this.find(key) !== -1;
  }

  set(key: K, value: V): this {
    const at = this.probe(key);
    if (this.keys[at] !== undefined) {
      this.vals[at] = value;
      return this;
    }
    this.keys[at] = key;
    this.vals[at] = value;
    this.count++;
    if (this.count * 2 > this.keys.length) this.resize(this.keys.length * 2);
    return this;
  }

  delete(key: K): boolean {
    let hole = this.find(key);
    if (hole === -1) return false;
    const mask = this.mask;
    // Entries after the hole whose probe passed through it move back into it.
    for (let at = (hole + 1) & mask; ; at = (at + 1) & mask) {
      const k = this.keys[at];
      if (k === undefined) break;
      const want = home(k) & mask;
      // Whether `want` lies cyclically outside (hole, at]: then the entry may fill the hole.
      const fits = hole <= at ? want <= hole || want > at : want <= hole && want > at;
      if (fits) {
        this.keys[hole] = k;
        this.vals[hole] = this.vals[at];
        hole = at;
      }
    }
    this.keys[hole] = undefined;
    this.vals[hole] = undefined;
    this.count--;
    const capacity = this.keys.length;
    if (capacity > this.minCapacity && this.count * 8 < capacity) this.resize(capacity / 2);
    return true;
  }

  clear(): void {
    this.keys.fill(undefined);
    this.vals.fill(undefined);
    this.count = 0;
  }

  /** The values as they are now (a copy: the map may change while they are walked). */
  values(): V[] {
    const out: V[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== undefined) out.push(this.vals[i] as V);
    return out;
  }

  /** Where `key` is, or the empty slot where its probe ends. */
  private probe(key: K): number {
    let at = home(key) & this.mask;
    for (let k = this.keys[at]; k !== undefined && k !== key; k = this.keys[at]) at = (at + 1) & this.mask;
    return at;
  }

  /** Where `key` is, or -1. */
  private find(key: K): number {
    const at = this.probe(key);
    return this.keys[at] === undefined ? -1 : at;
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Array<K | undefined>(capacity).fill(undefined);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) this.set(k, vals[i] as V);
    }
    // The old arrays are garbage now; emptied, they keep nothing alive until they are collected.
    keys.fill(undefined);
    vals.fill(undefined);
  }
}

function powerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** This process's hash seed (see SlotMap). */
const SEED = crypto.getRandomValues(new Uint32Array(1))[0]!;

/** A well-mixed, seeded 32-bit hash: of a number's integer part, or of a string's characters (FNV-1a). */
function home(key: string | number): number {
  let h: number;
  if (typeof key === 'number') {
    const lo = (key % 4294967296) | 0;
    const hi = Math.floor(key / 4294967296) | 0;
    h = lo ^ Math.imul(hi, 0x9e3779b1) ^ SEED;
  } else {
    h = 0x811c9dc5 ^ SEED;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
