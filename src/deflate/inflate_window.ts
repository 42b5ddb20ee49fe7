/**
 * The last bytes a peer's DEFLATE stream produced, kept so that a new stream
 * can start with them as its preset dictionary.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);
/** The ring's first size; it doubles up to the window as output comes. */
const MIN_RING = 4096;

/**
 * A ring of the last `2^windowBits` inflated bytes of a direction with context
 * takeover. A peer that ends a message with a final (BFINAL) block starts a new
 * DEFLATE stream afterwards, and RFC 7692 §7.2.3.3 lets it keep its LZ77 window:
 * the receiver restarts inflating with this window as the preset dictionary.
 * The ring starts at 4 KiB with the first bytes pushed and grows to the window.
 *
 * @example
 * ```ts
 * import { InflateWindow } from "./inflate_window.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const window = new InflateWindow(8); // 256 bytes
 * window.push(new Uint8Array(300).fill(1));
 * window.push(new Uint8Array([2, 3]));
 * const dict = window.dictionary(new Uint8Array([4]));
 * assertEquals(dict.length, 256);
 * assertEquals([...dict.subarray(-4)], [1, 2, 3, 4]);
 * ```
 */
export class InflateWindow {
  #ring: Uint8Array = EMPTY;
  #size: number;
  #end = 0;
  #filled = 0;

  /** @param windowBits The peer's window: 8 to 15 bits. */
  constructor(windowBits: number) {
    this.#size = 1 << windowBits;
  }

  /** The bytes held (at most the window size). */
  get length(): number {
    return this.#filled;
  }

  /**
   * Appends output; only the last window-size bytes are kept.
   *
   * @param bytes The inflated bytes.
   */
  push(bytes: Uint8Array): void {
    const n = Math.min(bytes.length, this.#size);
    if (n === 0) return;
    const src = bytes.subarray(bytes.length - n);
    if (this.#filled + n > this.#ring.length) this.#grow(this.#filled + n);
    const cap = this.#ring.length;
    const first = Math.min(n, cap - this.#end);
    this.#ring.set(src.subarray(0, first), this.#end);
    this.#ring.set(src.subarray(first), 0);
    this.#end = (this.#end + n) % cap;
    this.#filled = Math.min(cap, this.#filled + n);
  }

  /** Grows the ring towards the window size while it holds its bytes in order. */
  #grow(need: number): void {
    const old = this.#ring;
    if (old.length === this.#size) return;
    const cap = Math.min(
      this.#size,
      Math.max(MIN_RING, old.length * 2, need),
    );
    this.#ring = new Uint8Array(cap);
    this.#ring.set(old.subarray(0, this.#filled));
    this.#end = this.#filled;
  }

  /**
   * The window followed by `extra`, cut to the window size: a new stream's
   * preset dictionary.
   *
   * @param extra Bytes inflated since the last push.
   * @returns A new array.
   */
  dictionary(extra: Uint8Array = EMPTY): Uint8Array {
    const size = this.#size;
    if (extra.length >= size) return extra.slice(extra.length - size);
    const kept = Math.min(this.#filled, size - extra.length);
    const out = new Uint8Array(kept + extra.length);
    if (kept > 0) {
      const cap = this.#ring.length;
      const start = (this.#end - kept + cap) % cap;
      const first = Math.min(kept, cap - start);
      out.set(this.#ring.subarray(start, start + first));
      out.set(this.#ring.subarray(0, kept - first), first);
    }
    out.set(extra, kept);
    return out;
  }

  /** Forgets the bytes (the next stream starts without a dictionary). */
  clear(): void {
    this.#end = this.#filled = 0;
  }
}
