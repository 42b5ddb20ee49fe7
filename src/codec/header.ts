/**
 * The frame header codec (RFC 6455 §5.2): pure functions over byte arrays.
 *
 * @module
 */

import { smallBuffer } from "../_small_buffers.ts";

/**
 * The parsed header of one frame.
 *
 * Readers reuse one header object per connection: its fields are valid until the
 * next read.
 *
 * @example
 * ```ts
 * import { decodeHeader, newHeader } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const h = newHeader();
 * decodeHeader(new Uint8Array([0x81, 0x05]), 0, 2, h);
 * assertEquals([h.fin, h.opcode, h.length], [true, 1, 5]);
 * ```
 */
export interface Header {
  /** Whether this is the final fragment of a message. */
  fin: boolean;
  /** The RSV1-3 bits as they sit in the first byte (0x40, 0x20, 0x10). */
  rsv: number;
  /** The 4-bit opcode. */
  opcode: number;
  /** Whether a masking key follows the length. */
  masked: boolean;
  /** The payload length in bytes. */
  length: number;
  /** The masking key; meaningful only when `masked`. */
  readonly mask: Uint8Array;
}

/**
 * RSV bits as they sit in a frame's first byte.
 *
 * @example
 * ```ts
 * import { Rsv } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(Rsv.Rsv1, 0x40);
 * ```
 */
export const Rsv = {
  /** No extension bits. */
  None: 0,
  /** RSV1: "per-message compressed" under permessage-deflate. */
  Rsv1: 0x40,
  /** RSV2. */
  Rsv2: 0x20,
  /** RSV3. */
  Rsv3: 0x10,
} as const;

/** The FIN bit of a frame's first byte: the message's final frame. */
export const FIN = 0x80;

/** The longest control frame payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * The longest frame header: 2 bytes, a 64-bit length and a masking key.
 *
 * @example
 * ```ts
 * import { MAX_HEADER_BYTES } from "./header.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(MAX_HEADER_BYTES, 2 + 8 + 4);
 * ```
 */
export const MAX_HEADER_BYTES = 14;

/**
 * Makes an empty header to decode into.
 *
 * @returns A header with zeroed fields and its own 4-byte mask.
 *
 * @example
 * ```ts
 * import { newHeader } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(newHeader().mask.length, 4);
 * ```
 */
export function newHeader(): Header {
  return {
    fin: false,
    rsv: 0,
    opcode: 0,
    masked: false,
    length: 0,
    // A view into a shared slab: every connection has a header, and a typed
    // array with an ArrayBuffer of its own costs ~500 bytes.
    mask: smallBuffer(4),
  };
}

/**
 * Decodes a frame header from `bytes[start..end)` into `into`.
 *
 * A 64-bit length with the most significant bit set is reported as -1 (a protocol
 * error); lengths above 2^53 - 1 are clamped to `Number.MAX_SAFE_INTEGER`, which
 * every read limit refuses.
 *
 * @param bytes The bytes holding the header.
 * @param start Where the header begins.
 * @param end Where the available bytes end.
 * @param into The header to fill.
 * @returns The header's size in bytes, 0 when more bytes are needed, or -1 when the
 * 64-bit length has its top bit set.
 *
 * @example Decoding a masked "Hello" (RFC 6455 §5.7)
 * ```ts
 * import { decodeHeader, newHeader } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const frame = new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
 * const h = newHeader();
 * assertEquals(decodeHeader(frame, 0, frame.length, h), 6);
 * assertEquals([h.masked, h.length, h.mask[0]], [true, 5, 0x37]);
 * ```
 */
export function decodeHeader(
  bytes: Uint8Array,
  start: number,
  end: number,
  into: Header,
): number {
  const available = end - start;
  if (available < 2) return 0;
  const b0 = bytes[start];
  const b1 = bytes[start + 1];
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let size = 2;
  if (length === 126) size = 4;
  else if (length === 127) size = 10;
  if (masked) size += 4;
  if (available < size) return 0;
  if (length === 126) {
    length = (bytes[start + 2] << 8) | bytes[start + 3];
  } else if (length === 127) {
    const hi = ((bytes[start + 2] << 24) | (bytes[start + 3] << 16) |
      (bytes[start + 4] << 8) | bytes[start + 5]) >>> 0;
    if (hi >= 0x80000000) return -1;
    const lo = ((bytes[start + 6] << 24) | (bytes[start + 7] << 16) |
      (bytes[start + 8] << 8) | bytes[start + 9]) >>> 0;
    length = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
  }
  into.fin = (b0 & 0x80) !== 0;
  into.rsv = b0 & 0x70;
  into.opcode = b0 & 0x0f;
  into.masked = masked;
  into.length = length;
  if (masked) {
    const k = start + size - 4;
    const mask = into.mask;
    mask[0] = bytes[k];
    mask[1] = bytes[k + 1];
    mask[2] = bytes[k + 2];
    mask[3] = bytes[k + 3];
  }
  return size;
}

/**
 * Tells how many bytes the header of a frame takes.
 *
 * @param length The payload length.
 * @param masked Whether the frame carries a masking key.
 * @returns The header size: 2 to 14 bytes.
 *
 * @example
 * ```ts
 * import { headerSize } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(headerSize(125, false), 2);
 * assertEquals(headerSize(126, true), 8);
 * assertEquals(headerSize(65536, false), 10);
 * ```
 */
export function headerSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Encodes a frame header into `bytes` at `offset`.
 *
 * @param bytes Where to write; needs `headerSize(length, mask !== null)` bytes free.
 * @param offset Where the header begins.
 * @param first The first byte: FIN (0x80) | RSV bits | opcode.
 * @param length The payload length.
 * @param mask The masking key, or `null` for an unmasked frame.
 * @returns The number of bytes written.
 *
 * @example Encoding an unmasked "Hello" text frame header
 * ```ts
 * import { encodeHeader } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Uint8Array(14);
 * const n = encodeHeader(out, 0, 0x80 | 0x1, 5, null);
 * assertEquals([...out.subarray(0, n)], [0x81, 0x05]);
 * ```
 */
export function encodeHeader(
  bytes: Uint8Array,
  offset: number,
  first: number,
  length: number,
  mask: Uint8Array | null,
): number {
  const maskBit = mask === null ? 0 : 0x80;
  let i = offset;
  bytes[i++] = first;
  if (length < 126) {
    bytes[i++] = maskBit | length;
  } else if (length < 65536) {
    bytes[i++] = maskBit | 126;
    bytes[i++] = length >>> 8;
    bytes[i++] = length & 0xff;
  } else {
    const hi = Math.floor(length / 0x100000000);
    bytes[i++] = maskBit | 127;
    bytes[i++] = hi >>> 24;
    bytes[i++] = (hi >>> 16) & 0xff;
    bytes[i++] = (hi >>> 8) & 0xff;
    bytes[i++] = hi & 0xff;
    bytes[i++] = length >>> 24;
    bytes[i++] = (length >>> 16) & 0xff;
    bytes[i++] = (length >>> 8) & 0xff;
    bytes[i++] = length & 0xff;
  }
  if (mask !== null) {
    bytes[i++] = mask[0];
    bytes[i++] = mask[1];
    bytes[i++] = mask[2];
    bytes[i++] = mask[3];
  }
  return i - offset;
}
