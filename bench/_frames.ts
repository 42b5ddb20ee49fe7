/**
 * Pre-encoded frames and payloads for the benchmarks and the load generator,
 * written independently of `src/` so that a bug there cannot hide in the input.
 *
 * Frames are encoded by the test suite's wire toolkit (`tests/_wire.ts`).
 *
 * @module
 */

import { enc, encodeFrame as encodeWireFrame } from "../tests/_wire.ts";

/** FIN set, as in a frame's first byte. */
export const FIN = 0x80;
/** The RSV1 bit: "compressed" under permessage-deflate. */
export const RSV1 = 0x40;
/** The opcodes by name. */
export { Op } from "../tests/_wire.ts";

/** The masking key every pre-encoded client frame uses. */
export const BENCH_KEY: readonly number[] = [0x37, 0xfa, 0x21, 0x3d];

/**
 * Encodes one frame from its first byte (FIN, RSV and opcode bits): the header
 * in its shortest form, then the payload, masked with `key` when one is given
 * (client frames). The test suite's wire toolkit does the encoding.
 */
export function encodeFrame(
  first: number,
  payload: Uint8Array,
  key: readonly number[] | null,
): Uint8Array {
  return encodeWireFrame({
    fin: (first & FIN) !== 0,
    rsv: first & 0x70,
    opcode: first & 0x0f,
    payload,
    mask: key ?? undefined,
  });
}

/** Encodes one raw-TCP message: a 32-bit big-endian length, then the payload. */
export function encodeRaw(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** `count` copies of `frame` back to back: a batch of pipelined messages. */
export function repeat(frame: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/** A deterministic pseudo-random generator (xorshift32), so runs compare. */
export function prng(seed = 0x9e3779b9): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `size` bytes of ASCII text (printable, like a chat message or a small JSON). */
export function asciiText(size: number): Uint8Array {
  const next = prng(size);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = 0x20 + (next() % 0x5f);
  return out;
}

/** `size` pseudo-random bytes. */
export function randomBytes(size: number): Uint8Array {
  const next = prng(size + 1);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  return out;
}

const WORDS = [
  "id",
  "name",
  "status",
  "active",
  "price",
  "quantity",
  "tags",
  "created",
  "updated",
  "owner",
  "region",
  "score",
];

/**
 * About `size` bytes of JSON-like text (an array of records with repeated keys and
 * varied values), padded with spaces to exactly `size` bytes: what permessage-deflate
 * typically carries. It compresses about 3-4x.
 */
export function jsonLikeText(size: number): Uint8Array {
  const next = prng(size + 7);
  const records: string[] = [];
  let length = 2;
  while (length < size - 120) {
    const fields: string[] = [];
    for (const word of WORDS) {
      const r = next();
      const value = r % 3 === 0
        ? String(r % 100000)
        : r % 3 === 1
        ? `"${WORDS[r % WORDS.length]}-${(r >>> 8) % 1000}"`
        : String((r & 1) === 1);
      fields.push(`"${word}":${value}`);
    }
    const record = `{${fields.join(",")}}`;
    records.push(record);
    length += record.length + 1;
  }
  const text = `[${records.join(",")}]`;
  const out = new Uint8Array(size).fill(0x20);
  out.set(enc(text).subarray(0, size));
  return out;
}

/** Text mixing 1-, 2-, 3- and 4-byte UTF-8 sequences, cut on a character boundary. */
export function multilingualText(size: number): Uint8Array {
  const sample = "Hello, κόσμε! Привет мир. 你好，世界。 🌍🚀 ";
  const bytes = enc(sample.repeat(Math.ceil(size / 20)));
  let end = Math.min(size, bytes.length);
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}
