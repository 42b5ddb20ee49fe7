/**
 * The bounded buffer that inflated messages are written into.
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";

const EMPTY = new Uint8Array(0);
const MIN_GROWTH = 4096;
/** An internal buffer above this is dropped when the next message starts. */
const KEEP_BYTES = 64 * 1024;

/**
 * Where a {@linkcode Decompressor} writes a message: the caller's buffer, or an
 * internal one that grows up to the read limit and is kept for the next message
 * up to 64 KiB (so that one large message does not stay in memory per
 * connection).
 * Writing past the limit throws `message_too_big` (1009) before any byte beyond it
 * is stored, so a decompression bomb costs at most the limit in memory.
 *
 * @example
 * ```ts
 * import { InflateOutput } from "@wsx/websocket/deflate";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const out = new InflateOutput();
 * out.start(4);
 * out.push(new Uint8Array([1, 2, 3]));
 * assertEquals([...out.data], [1, 2, 3]);
 * assertThrows(() => out.push(new Uint8Array([4, 5])));
 * ```
 */
export class InflateOutput {
  #buf: Uint8Array = EMPTY;
  #internal: Uint8Array = EMPTY;
  #fixed = false;
  #length = 0;
  #limit = 0;
  #view: Uint8Array = EMPTY;
  #viewBase: Uint8Array = EMPTY;

  /**
   * Begins a message.
   *
   * @param limit The most bytes the message may inflate to.
   * @param buf The caller's buffer; without it, the internal buffer is used.
   */
  start(limit: number, buf?: Uint8Array): void {
    this.#limit = limit;
    this.#length = 0;
    this.#fixed = buf !== undefined;
    if (this.#internal.length > KEEP_BYTES) {
      this.#internal = this.#view = this.#viewBase = EMPTY;
    }
    this.#buf = buf ?? this.#internal;
  }

  /** The bytes written so far (a view valid until the next message). */
  get data(): Uint8Array {
    const n = this.#length;
    if (n === this.#buf.length) return this.#buf;
    if (this.#viewBase !== this.#buf || this.#view.length !== n) {
      this.#viewBase = this.#buf;
      this.#view = this.#buf.subarray(0, n);
    }
    return this.#view;
  }

  /** The number of bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** The buffer being written: bytes `[length, length + free)` are free. */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** The bytes that may still be written before the limit. */
  get room(): number {
    return this.#limit - this.#length;
  }

  /** The bytes free in {@linkcode InflateOutput.buffer} below the limit. */
  get free(): number {
    return Math.min(this.#buf.length, this.#limit) - this.#length;
  }

  /**
   * Records that `n` bytes were written into the free space.
   *
   * @param n The bytes written, at most `free`.
   */
  commit(n: number): void {
    this.#length += n;
  }

  /**
   * Drops the bytes written after the first `n`, to write them again.
   *
   * @param n The bytes to keep, at most `length`.
   *
   * @example
   * ```ts
   * import { InflateOutput } from "@wsx/websocket/deflate";
   * import { assertEquals } from "@std/assert";
   *
   * const out = new InflateOutput();
   * out.start(10);
   * out.push(new Uint8Array([1, 2, 3]));
   * out.truncate(1);
   * assertEquals([...out.data], [1]);
   * ```
   */
  truncate(n: number): void {
    this.#length = Math.min(this.#length, n);
  }

  /**
   * Makes room for `n` more bytes.
   *
   * @param n The bytes needed (at least 1).
   * @throws {WebSocketError} `message_too_big` past the limit, `buffer_too_small`
   * when the caller's buffer is full.
   */
  grow(n = 1): void {
    const need = this.#length + n;
    if (need > this.#limit) {
      throw new WebSocketError(
        "message_too_big",
        `Inflated message exceeds the ${this.#limit}-byte read limit`,
      );
    }
    if (need <= this.#buf.length) return;
    if (this.#fixed) {
      throw new WebSocketError(
        "buffer_too_small",
        `Inflated message does not fit the ${this.#buf.length}-byte buffer`,
      );
    }
    const size = Math.min(
      this.#limit,
      Math.max(need, MIN_GROWTH, this.#buf.length * 2),
    );
    const next = new Uint8Array(size);
    if (this.#length > 0) next.set(this.#buf.subarray(0, this.#length));
    this.#buf = this.#internal = next;
  }

  /**
   * Appends bytes.
   *
   * @param chunk The bytes.
   * @throws {WebSocketError} As {@linkcode InflateOutput.grow}.
   */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.grow(n);
    this.#buf.set(chunk, this.#length);
    this.#length += n;
  }
}
