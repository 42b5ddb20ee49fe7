/**
 * An in-memory transport for memory figures: read directly (as a `Deno.Conn`
 * is), it delivers one frame at most, then waits forever; writes vanish. Its
 * methods live on the prototype, so it costs one small object.
 *
 * @module
 */

/** A masked text frame, "hello" (key 01 02 03 04). */
export const HELLO: Uint8Array = Uint8Array.of(
  ...[0x81, 0x85, 1, 2, 3, 4],
  ...[0x69, 0x67, 0x6f, 0x68, 0x6e],
);
const NEVER = new Promise<number | null>(() => {});

/** Delivers `first` once (if given), then waits forever; writes vanish. */
export class IdleTransport {
  #pending: Uint8Array | null;
  constructor(first: Uint8Array | null = HELLO) {
    this.#pending = first;
  }
  get readable(): ReadableStream<Uint8Array> {
    throw new Error("direct reads only");
  }
  get writable(): WritableStream<Uint8Array> {
    throw new Error("direct writes only");
  }
  read(p: Uint8Array): Promise<number | null> {
    const pending = this.#pending;
    if (pending === null) return NEVER;
    p.set(pending);
    this.#pending = null;
    return Promise.resolve(pending.length);
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  close(): void {}
}
