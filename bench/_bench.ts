/**
 * Shared fixtures for the micro benchmarks: the smoke switch and an in-memory
 * transport that replays frames.
 *
 * @module
 */

/**
 * Whether the benchmarks run in smoke mode (`BENCH_SMOKE=1 deno run -A FILE`): a
 * handful of iterations each, to prove they still work, not to time anything.
 */
export const SMOKE: boolean = (() => {
  try {
    return Deno.env.get("BENCH_SMOKE") === "1";
  } catch {
    return false;
  }
})();

/** Iterations of each benchmark in smoke mode. */
const SMOKE_ITERATIONS = 3;
let smokeQueue: Promise<void> = Promise.resolve();

/** A benchmark: `Deno.bench`'s fields that these files use. */
export interface BenchCase {
  name: string;
  group?: string;
  baseline?: boolean;
  fn: () => void | Promise<void>;
}

/**
 * Registers a benchmark with `Deno.bench`; in smoke mode (run the file with
 * `deno run`) runs it a few times instead, one after another, and prints
 * `smoke ok | group | name` for each.
 */
export function bench(def: BenchCase): void {
  if (!SMOKE) {
    Deno.bench(def);
    return;
  }
  smokeQueue = smokeQueue.then(async () => {
    for (let i = 0; i < SMOKE_ITERATIONS; i++) await def.fn();
    console.log(`smoke ok | ${def.group ?? ""} | ${def.name}`);
  });
}

/**
 * Resolves once every benchmark registered so far has run in smoke mode (at once
 * otherwise), so that a file can then stop the servers it started.
 */
export function smokeFinished(): Promise<void> {
  return smokeQueue;
}

/** Copies below this size use a byte loop, which allocates no view. */
const LOOP_COPY_BELOW = 256;

/**
 * A `Deno.Conn`-like transport in memory: `read()` replays `data` (whole frames) in
 * a loop, `write()` counts and discards. A `Conn` built over it takes the direct
 * path, as it does over `Deno.Conn`, so only the framing is measured.
 */
export class ReplayTransport {
  /** Unused stream ends: a `Conn` over this transport reads and writes directly. */
  readonly readable: ReadableStream<Uint8Array> = new ReadableStream();
  /** Unused stream ends: a `Conn` over this transport reads and writes directly. */
  readonly writable: WritableStream<Uint8Array> = new WritableStream();
  /** Calls of `read()` so far. */
  reads = 0;
  /** Calls of `write()` so far. */
  writes = 0;
  /** Bytes passed to `write()` so far. */
  written = 0;
  #data: Uint8Array;
  #pos = 0;

  /** Replays `data`, which must hold whole frames so that none straddles the loop. */
  constructor(data: Uint8Array) {
    this.#data = data;
  }

  /** Copies the next bytes into `p`, stopping at the end of `data`. */
  read(p: Uint8Array): Promise<number> {
    const data = this.#data;
    const from = this.#pos;
    const n = Math.min(p.length, data.length - from);
    if (n < LOOP_COPY_BELOW) {
      for (let i = 0; i < n; i++) p[i] = data[from + i];
    } else {
      p.set(data.subarray(from, from + n));
    }
    this.#pos = from + n === data.length ? 0 : from + n;
    this.reads++;
    return Promise.resolve(n);
  }

  /** Accepts everything at once. */
  write(p: Uint8Array): Promise<number> {
    this.writes++;
    this.written += p.length;
    return Promise.resolve(p.length);
  }

  /** Nothing to release. */
  close(): void {}
}
