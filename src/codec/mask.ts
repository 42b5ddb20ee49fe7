/**
 * Frame masking (RFC 6455 §5.3), 32 bits at a time, or 128 with WebAssembly
 * SIMD for bytes in the SIMD block (`simd_mask.ts`) that read buffers come from.
 *
 * @module
 */

import { simdMoveOf, simdXorOf } from "./simd_mask.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this size four bytes per step beat looking up a word view. */
const WORDWISE_FROM = 64;

// Word views of the buffers masked, one per buffer: connections mask into their
// own (or pooled) read and write buffers, so a view per call would allocate per
// frame. The last one is checked first; the WeakMap lets buffers go.
let lastBuffer: ArrayBufferLike | null = null;
let lastWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array<ArrayBufferLike>>();

/** A view of `buffer` as 32-bit words, covering at least `words` of them. */
function wordsOf(buffer: ArrayBufferLike, words: number): Uint32Array {
  if (buffer !== lastBuffer || lastWords.length < words) {
    let view = wordViews.get(buffer);
    // A view made before a resizable buffer grew (or shrank) is made again.
    if (view === undefined || view.length !== buffer.byteLength >>> 2) {
      view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
      wordViews.set(buffer, view);
    }
    lastBuffer = buffer;
    lastWords = view;
  }
  return lastWords;
}

/** The key from position `k` as a 32-bit word, as WebAssembly reads memory. */
function littleEndianWord(key: Uint8Array, k: number): number {
  return key[k & 3] | (key[(k + 1) & 3] << 8) | (key[(k + 2) & 3] << 16) |
    (key[(k + 3) & 3] << 24);
}

/** XORs `bytes[i..end)` four bytes per step, key byte `k0` first. */
function maskBytes(
  bytes: Uint8Array,
  i: number,
  end: number,
  key: Uint8Array,
  k: number,
): void {
  const k0 = key[k & 3], k1 = key[(k + 1) & 3];
  const k2 = key[(k + 2) & 3], k3 = key[(k + 3) & 3];
  for (; i + 4 <= end; i += 4) {
    bytes[i] ^= k0;
    bytes[i + 1] ^= k1;
    bytes[i + 2] ^= k2;
    bytes[i + 3] ^= k3;
  }
  if (i < end) bytes[i] ^= k0;
  if (i + 1 < end) bytes[i + 1] ^= k1;
  if (i + 2 < end) bytes[i + 2] ^= k2;
}

/**
 * XORs `bytes[start..end)` in place with a masking key, starting at key position
 * `phase`.
 *
 * Masking is its own inverse: the same call unmasks. Pass the returned phase to the
 * next call to continue a payload that arrives in pieces. Short runs are masked
 * four bytes per step; longer ones 32 bits at a time once aligned. Nothing is
 * allocated per call.
 *
 * @param bytes The bytes to mask in place.
 * @param key The 4-byte masking key.
 * @param phase The key position of `bytes[start]` (0-3).
 * @param start The first byte to mask; 0 by default.
 * @param end Where masking stops; `bytes.length` by default.
 * @returns The key position after the last byte.
 *
 * @example Unmasking "Hello" (RFC 6455 §5.7)
 * ```ts
 * import { maskInPlace } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * maskInPlace(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), 0);
 * assertEquals(new TextDecoder().decode(data), "Hello");
 * ```
 */
export function maskInPlace(
  bytes: Uint8Array,
  key: Uint8Array,
  phase: number,
  start = 0,
  end: number = bytes.length,
): number {
  if (end - start < WORDWISE_FROM) {
    maskBytes(bytes, start, end, key, phase);
    return (phase + end - start) & 3;
  }
  const xor = simdXorOf(bytes.buffer);
  if (xor !== null) {
    const whole = (end - start) & ~15;
    xor(bytes.byteOffset + start, whole, littleEndianWord(key, phase));
    // `whole` is a multiple of 4: the key position is `phase` again.
    maskBytes(bytes, start + whole, end, key, phase);
    return (phase + end - start) & 3;
  }
  const base = bytes.byteOffset;
  let i = start;
  while (((base + i) & 3) !== 0) {
    bytes[i] ^= key[(phase + i - start) & 3];
    i++;
  }
  const k = phase + i - start;
  const k0 = key[k & 3], k1 = key[(k + 1) & 3];
  const k2 = key[(k + 2) & 3], k3 = key[(k + 3) & 3];
  const word = LITTLE_ENDIAN
    ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24))
    : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3);
  const first = (base + i) >>> 2;
  const last = (base + end) >>> 2;
  const words = wordsOf(bytes.buffer, last);
  for (let w = first; w < last; w++) words[w] ^= word;
  i = (last << 2) - base;
  maskBytes(bytes, i, end, key, k);
  return (phase + end - start) & 3;
}

/**
 * Masks `bytes[from..from + n)` into `bytes[to..to + n)`, `to <= from`, in one
 * pass where the bytes are in a SIMD memory of their own (large message
 * buffers): how frames read back to back into a message buffer lose the
 * headers between their payloads. The bytes past `to + n` are left as they
 * were moved over.
 *
 * @param bytes The buffer.
 * @param from Where the masked bytes start.
 * @param to Where their unmasked copy goes, at most `from`.
 * @param n How many bytes.
 * @param key The 4-byte masking key.
 * @param phase The key position of `bytes[from]` (0-3).
 * @returns The key position after the last byte.
 *
 * @example
 * ```ts
 * import { maskDown } from "./mask.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new Uint8Array([0, 0, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * maskDown(bytes, 2, 0, 5, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), 0);
 * assertEquals(new TextDecoder().decode(bytes.subarray(0, 5)), "Hello");
 * ```
 */
export function maskDown(
  bytes: Uint8Array,
  from: number,
  to: number,
  n: number,
  key: Uint8Array,
  phase: number,
): number {
  const move = n < WORDWISE_FROM ? null : simdMoveOf(bytes.buffer);
  if (move === null) {
    if (from !== to) bytes.copyWithin(to, from, from + n);
    return maskInPlace(bytes, key, phase, to, to + n);
  }
  const whole = n & ~15;
  move(
    bytes.byteOffset + from,
    bytes.byteOffset + to,
    whole,
    littleEndianWord(key, phase),
  );
  for (let i = whole; i < n; i++) {
    bytes[to + i] = bytes[from + i] ^ key[(phase + i) & 3];
  }
  return (phase + n) & 3;
}

/**
 * Copies `src` into `dst` at `offset` and masks the copy, leaving `src` untouched:
 * the client's write path, which must never mutate the caller's bytes.
 *
 * @param src The bytes to mask.
 * @param dst Where the masked bytes go.
 * @param offset Where in `dst` the copy begins.
 * @param key The 4-byte masking key.
 * @param phase The key position of `src[0]` (0-3).
 * @returns The key position after the last byte.
 *
 * @example
 * ```ts
 * import { maskInto } from "./mask.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const src = new TextEncoder().encode("Hello");
 * const dst = new Uint8Array(5);
 * maskInto(src, dst, 0, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), 0);
 * assertEquals([...dst], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * ```
 */
export function maskInto(
  src: Uint8Array,
  dst: Uint8Array,
  offset: number,
  key: Uint8Array,
  phase: number,
): number {
  dst.set(src, offset);
  return maskInPlace(dst, key, phase, offset, offset + src.length);
}

const KEY_POOL_BYTES = 4096;
let keyPool = new Uint8Array(0);
let keyPos = 0;

/**
 * Fills `key` with 4 fresh random bytes from `crypto.getRandomValues`.
 *
 * Keys come from a pooled buffer refilled 1,024 keys at a time, so drawing one
 * allocates nothing.
 *
 * @param key The 4-byte array to fill.
 *
 * @example
 * ```ts
 * import { nextMaskKey } from "./mask.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const key = new Uint8Array(4);
 * nextMaskKey(key);
 * assertEquals(key.length, 4);
 * ```
 */
export function nextMaskKey(key: Uint8Array): void {
  if (keyPos + 4 > keyPool.length) {
    if (keyPool.length === 0) keyPool = new Uint8Array(KEY_POOL_BYTES);
    crypto.getRandomValues(keyPool);
    keyPos = 0;
  }
  key[0] = keyPool[keyPos];
  key[1] = keyPool[keyPos + 1];
  key[2] = keyPool[keyPos + 2];
  key[3] = keyPool[keyPos + 3];
  keyPos += 4;
}
