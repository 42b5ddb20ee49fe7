/**
 * A small seeded random source, so that every fuzz case can be replayed from
 * its seed.
 *
 * @module
 */

/** A deterministic pseudo-random generator (mulberry32). */
export class Rng {
  #state: number;

  /** Starts the sequence for `seed`. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A length: mostly small, sometimes past the 16-bit and 64-bit length forms. */
  length(): number {
    const r = this.next();
    if (r < 0.6) return this.int(126);
    if (r < 0.9) return this.range(126, 4096);
    if (r < 0.98) return this.range(4097, 70_000);
    return this.range(65_536, 300_000);
  }

  /** A random string with ASCII, 2-, 3- and 4-byte UTF-8 characters. */
  text(units: number): string {
    let s = "";
    for (let i = 0; i < units; i++) {
      const r = this.next();
      if (r < 0.7) s += String.fromCharCode(this.range(0x20, 0x7e));
      else if (r < 0.8) s += String.fromCharCode(this.range(0x80, 0x7ff));
      else if (r < 0.9) s += String.fromCharCode(this.range(0x800, 0xd7ff));
      else s += String.fromCodePoint(this.range(0x10000, 0x10ffff));
    }
    return s;
  }
}

/** Cuts `bytes` into chunks the way reads might see them. */
export function splitRandomly(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const mode = rng.int(5);
  if (mode === 0 || bytes.length === 0) return [bytes];
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = mode === 1
      ? 1
      : mode === 2
      ? rng.range(1, 16)
      : mode === 3
      ? rng.range(1, 5000)
      : rng.pick([1, 2, 3, 7, 14, 64, 4096, 65536]);
    out.push(bytes.subarray(at, Math.min(bytes.length, at + n)));
    at += n;
  }
  return out;
}
