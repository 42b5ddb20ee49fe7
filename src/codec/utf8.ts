/**
 * Incremental UTF-8 validation (RFC 3629 §4) for fragmented text messages.
 *
 * @module
 */

/** Pieces shorter than this are checked a byte at a time. */
const WORDWISE_FROM = 64;
/** ASCII bytes in a row after which the rest is checked four at a time. */
const ASCII_RUN = 16;

// A word view over the last buffer validated: a connection validates in its own
// buffers, so a view per call would allocate per message.
let lastBuffer: ArrayBufferLike | null = null;
let lastWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** The index of the first byte of `bytes[i..end)` that is not ASCII, or `end`. */
function skipAscii(bytes: Uint8Array, i: number, end: number): number {
  while (i < end && ((bytes.byteOffset + i) & 3) !== 0) {
    if (bytes[i] >= 0x80) return i;
    i++;
  }
  const buffer = bytes.buffer;
  if (buffer !== lastBuffer) {
    lastBuffer = buffer;
    lastWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  const words = lastWords;
  let w = (bytes.byteOffset + i) >>> 2;
  // The view may have been made before a resizable buffer grew or shrank.
  const wEnd = Math.min((bytes.byteOffset + end) >>> 2, words.length);
  while (
    w + 4 <= wEnd &&
    ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) & 0x80808080) === 0
  ) {
    w += 4;
  }
  while (w < wEnd && (words[w] & 0x80808080) === 0) w++;
  i = (w << 2) - bytes.byteOffset;
  while (i < end && bytes[i] < 0x80) i++;
  return i;
}

/**
 * Validates UTF-8 that arrives in pieces, failing at the first byte that cannot
 * start or continue a well-formed sequence: overlongs, surrogates (U+D800-U+DFFF)
 * and code points above U+10FFFF are all rejected as soon as their first
 * impossible byte is seen, across piece boundaries.
 *
 * @example Validating a text message split inside a character
 * ```ts
 * import { Utf8Validator } from "./utf8.ts";
 * import { assert } from "@std/assert";
 *
 * const euro = new TextEncoder().encode("€"); // e2 82 ac
 * const v = new Utf8Validator();
 * assert(v.push(euro, 0, 1));
 * assert(!v.complete);
 * assert(v.push(euro, 1, 3));
 * assert(v.complete);
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes still expected. */
  #need = 0;
  /** The allowed range of the next continuation byte. */
  #lo = 0x80;
  #hi = 0xbf;

  /** Whether the bytes pushed so far end on a character boundary. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** Forgets any partial character, to validate a new message. */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  /**
   * Feeds `bytes[start..end)` to the validator.
   *
   * @param bytes The bytes to check.
   * @param start The first byte; 0 by default.
   * @param end Where checking stops; `bytes.length` by default.
   * @returns `false` at the first invalid byte; the validator must then be reset.
   */
  // One function on purpose: the hot loop keeps the validator's state in locals
  // and writes it back once, at the end.
  push(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    let need = this.#need;
    let lo = this.#lo;
    let hi = this.#hi;
    let i = start;
    // ASCII runs (often all of it) go four bytes per test: the leading one, and
    // any other long enough to be worth it.
    if (need === 0) {
      if (end - i >= WORDWISE_FROM) i = skipAscii(bytes, i, end);
      else {
        while (
          i + 8 <= end &&
          ((bytes[i] | bytes[i + 1] | bytes[i + 2] | bytes[i + 3] |
              bytes[i + 4] | bytes[i + 5] | bytes[i + 6] | bytes[i + 7]) &
              0x80) === 0
        ) {
          i += 8;
        }
      }
    }
    let ascii = 0;
    for (; i < end; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) {
          if (++ascii === ASCII_RUN && end - i > WORDWISE_FROM) {
            i = skipAscii(bytes, i + 1, end) - 1;
            ascii = 0;
          }
          continue;
        }
        ascii = 0;
        lo = 0x80;
        hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) need = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) lo = 0xa0;
          else if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f;
        } else {
          return this.#fail();
        }
      } else {
        if (b < lo || b > hi) return this.#fail();
        lo = 0x80;
        hi = 0xbf;
        need--;
      }
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return true;
  }

  #fail(): false {
    this.reset();
    return false;
  }
}

/**
 * Tells whether `bytes[start..end)` is complete, well-formed UTF-8.
 *
 * @param bytes The bytes to check.
 * @param start The first byte; 0 by default.
 * @param end Where checking stops; `bytes.length` by default.
 * @returns `true` for valid UTF-8 that ends on a character boundary.
 *
 * @example
 * ```ts
 * import { isValidUtf8 } from "@wsx/websocket";
 * import { assert } from "@std/assert";
 *
 * assert(isValidUtf8(new TextEncoder().encode("κόσμε")));
 * assert(!isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))); // a surrogate
 * ```
 */
export function isValidUtf8(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): boolean {
  const v = scratchValidator;
  v.reset();
  const ok = v.push(bytes, start, end) && v.complete;
  v.reset();
  return ok;
}

const scratchValidator = new Utf8Validator();

/**
 * Encodes `text` as UTF-8 into `out` at `at` (room for 3 bytes per UTF-16 unit is
 * assumed), replacing lone surrogates with U+FFFD as `TextEncoder` does.
 *
 * @returns The number of bytes written.
 *
 * @example
 * ```ts
 * import { encodeUtf8Into } from "./utf8.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Uint8Array(6);
 * assertEquals(encodeUtf8Into("hé", out, 0), 3);
 * assertEquals([...out.subarray(0, 3)], [0x68, 0xc3, 0xa9]);
 * ```
 */
export function encodeUtf8Into(
  text: string,
  out: Uint8Array,
  at: number,
): number {
  const start = at;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          out[at++] = 0xf0 | (c >> 18);
          out[at++] = 0x80 | ((c >> 12) & 0x3f);
          out[at++] = 0x80 | ((c >> 6) & 0x3f);
          out[at++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at - start;
}
