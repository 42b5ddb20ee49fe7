/**
 * A DEFLATE (RFC 1951) walker that decodes block structure and symbols without
 * producing output, to find the longest back-reference distance a peer used:
 * `node:zlib` on Deno ignores `windowBits` when inflating, so this is how the
 * harness checks that a peer honours a negotiated `*_max_window_bits`.
 *
 * @module
 */

/** What the walk found. */
export interface DeflateScan {
  /** The longest distance of any back-reference, 0 when there was none. */
  maxDistance: number;
  /** Bytes the stream inflates to. */
  outputLength: number;
}

const LBASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
];
const LEXT = [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
];
const DBASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DEXT = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
];
const ORDER = [
  16,
  17,
  18,
  0,
  8,
  7,
  9,
  6,
  10,
  5,
  11,
  4,
  12,
  3,
  13,
  2,
  14,
  1,
  15,
];

/** A canonical Huffman code: how many codes per length, and symbols in code order. */
interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
}

function huffman(lengths: ArrayLike<number>): Huffman {
  const count = new Uint16Array(16);
  for (let i = 0; i < lengths.length; i++) count[lengths[i]]++;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + count[len];
  const symbol = new Uint16Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) {
    if (lengths[i] !== 0) symbol[offs[lengths[i]]++] = i;
  }
  count[0] = 0;
  return { count, symbol };
}

const FIXED_LIT = huffman(
  Array.from(
    { length: 288 },
    (_, i) => i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8,
  ),
);
const FIXED_DIST = huffman(new Array(30).fill(5));

class EndOfInput extends Error {}

class Bits {
  #data: Uint8Array;
  #pos = 0;
  #buf = 0;
  #cnt = 0;
  constructor(data: Uint8Array) {
    this.#data = data;
  }
  get exhausted(): boolean {
    return this.#pos >= this.#data.length && this.#cnt === 0;
  }
  need(n: number): number {
    let v = this.#buf;
    while (this.#cnt < n) {
      if (this.#pos >= this.#data.length) throw new EndOfInput("end of input");
      v |= this.#data[this.#pos++] << this.#cnt;
      this.#cnt += 8;
    }
    this.#buf = v >>> n;
    this.#cnt -= n;
    return v & ((1 << n) - 1);
  }
  /** Drops bits up to the byte boundary and skips `n` whole bytes after reading LEN/NLEN. */
  stored(): number {
    this.#buf = 0;
    this.#cnt = 0;
    if (this.#pos + 4 > this.#data.length) throw new EndOfInput("end of input");
    const d = this.#data;
    const len = d[this.#pos] | (d[this.#pos + 1] << 8);
    const nlen = d[this.#pos + 2] | (d[this.#pos + 3] << 8);
    if ((len ^ 0xffff) !== nlen) {
      throw new RangeError("stored block length check failed");
    }
    this.#pos += 4 + len;
    if (this.#pos > d.length) throw new EndOfInput("end of input");
    return len;
  }
  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= this.need(1);
      const count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new RangeError("invalid Huffman code");
  }
}

function dynamicTables(bits: Bits): [Huffman, Huffman] {
  const nlen = bits.need(5) + 257;
  const ndist = bits.need(5) + 1;
  const ncode = bits.need(4) + 4;
  const lengths = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) lengths[ORDER[i]] = bits.need(3);
  const lencode = huffman(lengths);
  const all = new Uint8Array(nlen + ndist);
  for (let i = 0; i < nlen + ndist;) {
    const sym = bits.decode(lencode);
    if (sym < 16) {
      all[i++] = sym;
      continue;
    }
    let value = 0;
    let repeat: number;
    if (sym === 16) {
      if (i === 0) throw new RangeError("repeat with no previous length");
      value = all[i - 1];
      repeat = 3 + bits.need(2);
    } else repeat = sym === 17 ? 3 + bits.need(3) : 11 + bits.need(7);
    if (i + repeat > nlen + ndist) {
      throw new RangeError("too many code lengths");
    }
    while (repeat-- > 0) all[i++] = value;
  }
  return [huffman(all.subarray(0, nlen)), huffman(all.subarray(nlen))];
}

/**
 * Walks a raw DEFLATE stream (a permessage-deflate payload with its `00 00 ff ff`
 * tail restored) and reports the longest distance it uses.
 *
 * @throws RangeError for malformed data, or when the output passes `maxOutput`.
 */
export function scanDeflate(data: Uint8Array, maxOutput: number): DeflateScan {
  const bits = new Bits(data);
  let maxDistance = 0;
  let out = 0;
  try {
    for (;;) {
      if (bits.exhausted) break;
      const final = bits.need(1);
      const type = bits.need(2);
      if (type === 0) out += bits.stored();
      else if (type === 3) throw new RangeError("invalid block type");
      else {
        const [lit, dist] = type === 1
          ? [FIXED_LIT, FIXED_DIST]
          : dynamicTables(bits);
        for (;;) {
          const sym = bits.decode(lit);
          if (sym < 256) out++;
          else if (sym === 256) break;
          else {
            const l = sym - 257;
            if (l >= 29) throw new RangeError("invalid length symbol");
            out += LBASE[l] + bits.need(LEXT[l]);
            const d = bits.decode(dist);
            if (d >= 30) throw new RangeError("invalid distance symbol");
            maxDistance = Math.max(maxDistance, DBASE[d] + bits.need(DEXT[d]));
          }
          if (out > maxOutput) {
            throw new RangeError(`output above ${maxOutput} bytes`);
          }
        }
      }
      if (final) break;
    }
  } catch (e) {
    // A sync-flushed stream simply ends after its empty stored block.
    if (!(e instanceof EndOfInput)) throw e;
  }
  return { maxDistance, outputLength: out };
}
