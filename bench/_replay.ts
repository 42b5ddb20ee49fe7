/**
 * An in-memory transport that replays frames, shared by the micro benchmarks and
 * the allocation harness.
 *
 * @module
 */

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
