/**
 * Payloads for conformance cases: deterministic, so a failure reproduces.
 *
 * @module
 */

import { enc } from "../_wire.ts";

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function pseudoRandom(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `length` bytes of printable ASCII text (valid UTF-8), repeating a phrase. */
export function asciiText(length: number): Uint8Array {
  const phrase = enc(
    "The quick brown fox jumps over the lazy dog 0123456789. ",
  );
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = phrase[i % phrase.length];
  return out;
}
