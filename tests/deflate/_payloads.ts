/** Payloads for the DEFLATE engine tests. */

import { enc } from "../_wire.ts";

/** Bytes from a small linear congruential generator: incompressible. */
export function random(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** JSON-like text of `n` bytes: compressible, as real messages are. */
export function jsonish(n: number, seed = 1): Uint8Array {
  let s = "";
  for (let i = seed; s.length < n; i++) {
    s += `{"id":${i},"name":"user${i % 97}","active":${i % 3 === 0}},`;
  }
  return enc(s.slice(0, n));
}
