/**
 * Incremental UTF-8 validation (RFC 3629 §4) for fragmented text messages.
 *
 * @module
 */

/**
 * Validates UTF-8 that arrives in pieces, failing at the first byte that cannot
 * start or continue a well-formed sequence: overlongs, surrogates (U+D800-U+DFFF)
 * and code points above U+10FFFF are all rejected as soon as their first
 * impossible byte is seen, across piece boundaries.
 *
 * @example Validating a text message split inside a character
 * ```ts
 * import { Utf8Validator } from "@wsx/websocket";
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
  push(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    let need = this.#need;
    let lo = this.#lo;
    let hi = this.#hi;
    let i = start;
    if (need === 0) {
      // A leading ASCII run (often all of it), eight bytes per test.
      while (
        i + 8 <= end &&
        ((bytes[i] | bytes[i + 1] | bytes[i + 2] | bytes[i + 3] |
            bytes[i + 4] | bytes[i + 5] | bytes[i + 6] | bytes[i + 7]) &
            0x80) === 0
      ) {
        i += 8;
      }
    }
    for (; i < end; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) continue;
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
