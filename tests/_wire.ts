/**
 * The wire toolkit shared by every test, fuzz target, interop check and
 * benchmark: frames to bytes and back, hex, close codes, UTF-8.
 *
 * Written from RFC 6455 §5 and §7.4 alone and imports nothing from `src/`, so the
 * library is never checked against its own encoder: a bug there cannot hide the
 * same bug here.
 *
 * - {@linkcode encodeFrame} / {@linkcode encodeFrames}: one frame or several, with
 *   deliberate malformations on request (any opcode or RSV bits, a length field
 *   that lies, a non-minimal length form, a mask where none belongs).
 * - {@linkcode parseFrame} / {@linkcode parseFrames}: what a peer sent, unmasked.
 * - {@linkcode hex} / {@linkcode toHex}: bytes written the way RFCs print them.
 * - {@linkcode CLOSE_CODES}, {@linkcode isValidCloseCode},
 *   {@linkcode VALID_CLOSE_CODES}, {@linkcode INVALID_CLOSE_CODES}: RFC 6455 §7.4.
 * - {@linkcode enc} / {@linkcode dec}: UTF-8 text to bytes and back.
 *
 * @example Encode a frame and read it back
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { encodeFrame, hex, Op, parseFrames } from "./_wire.ts";
 *
 * const bytes = encodeFrame({ opcode: Op.Text, payload: "Hello" });
 * assertEquals(bytes, hex("81 05 48 65 6c 6c 6f"));
 * assertEquals(parseFrames(bytes)[0].payload, hex("48 65 6c 6c 6f"));
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`, in an `ArrayBuffer` of their own (usable as a `BufferSource`). */
export function enc(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/**
 * `bytes` decoded as UTF-8; invalid sequences become U+FFFD. Use
 * `new TextDecoder("utf-8", { fatal: true })` to reject them instead.
 */
export function dec(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Bytes from hex text: `hex("81 05 48 65")`. Whitespace is ignored, so RFC
 * listings can be pasted as they are.
 *
 * @throws TypeError when the text has an odd number of digits or a non-hex character
 */
export function hex(text: string): Uint8Array<ArrayBuffer> {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`Not hex bytes: ${JSON.stringify(text)}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** Lower-case hex of `bytes`, one space between bytes: `"81 05 48 65"`. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Joins byte arrays into a new one. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concatAll(parts);
}

/** Joins a list of byte arrays into a new one (no argument spread: any length). */
export function concatAll(
  parts: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Opcodes by name (RFC 6455 §5.2), as plain numbers so reserved ones can be sent too. */
export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** The FIN bit as it sits in a frame's first byte. */
export const FIN = 0x80;

/** RSV bits as they sit in a frame's first byte; RSV1 means "compressed" under RFC 7692. */
export const Rsv = { Rsv1: 0x40, Rsv2: 0x20, Rsv3: 0x10 } as const;

/**
 * Close codes by name (RFC 6455 §7.4.1 and the IANA registry it created).
 *
 * Shape: name → code. 1005, 1006 and 1015 are reserved for reporting and must
 * never appear on the wire; {@linkcode isValidCloseCode} says which codes may.
 */
export const CLOSE_CODES = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatusReceived: 1005,
  AbnormalClosure: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  TlsHandshake: 1015,
} as const;

/**
 * Whether `code` may appear in a close frame (RFC 6455 §7.4): the registered
 * codes except the reporting-only 1005, 1006 and 1015 (1004 is unassigned), and
 * the 3000-4999 ranges for libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** Codes a close frame may carry, the edges of each range included. */
export const VALID_CLOSE_CODES: readonly number[] = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  3999,
  4000,
  4999,
];

/** Codes a close frame must not carry: reserved, unassigned or out of range. */
export const INVALID_CLOSE_CODES: readonly number[] = [
  0,
  999,
  1004,
  1005,
  1006,
  1015,
  1016,
  1100,
  2000,
  2999,
  5000,
  65535,
];

/** A close frame's payload: the code big-endian, then the reason (RFC 6455 §5.5.1). */
export function closePayload(
  code?: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const r = typeof reason === "string" ? enc(reason) : reason;
  const out = new Uint8Array(2 + r.length);
  out[0] = (code >> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** Masks or unmasks `data` in place with a 4-byte key (RFC 6455 §5.3). */
export function xorMask(data: Uint8Array, key: ArrayLike<number>): void {
  let i = 0;
  if (data.byteOffset % 4 === 0 && data.length >= 16) {
    const words = new Uint32Array(
      data.buffer,
      data.byteOffset,
      data.length >>> 2,
    );
    const k = new Uint32Array(Uint8Array.from(key).buffer, 0, 1)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= k;
    i = words.length * 4;
  }
  for (; i < data.length; i++) data[i] ^= key[i & 3];
}

/** One frame to encode; everything but the opcode has a well-formed default. */
export interface FrameOptions {
  /** The opcode, 0-15; see {@linkcode Op}. Reserved ones are sent as given. */
  opcode: number;
  /** The payload (a string is sent as UTF-8); empty by default. */
  payload?: Uint8Array | string;
  /** The FIN bit; `true` by default. */
  fin?: boolean;
  /** RSV bits as they sit in the first byte (`Rsv.Rsv1 | Rsv.Rsv3`); 0 by default. */
  rsv?: number;
  /**
   * The masking key (4 bytes), or `true` for a random one; unmasked when absent
   * or `false`. Clients mask, servers do not (RFC 6455 §5.1).
   */
  mask?: ArrayLike<number> | boolean;
  /** The length form (7, 16 or 64 bits); the shortest that fits by default. */
  lengthForm?: 7 | 16 | 64;
  /**
   * The value written in the length field, when it should disagree with the
   * payload's real length (a malformation); the payload's length by default.
   */
  length?: number | bigint;
}

/**
 * One frame's bytes (RFC 6455 §5.2), malformed exactly as `options` asks.
 *
 * @throws RangeError when the length does not fit the requested length form
 */
export function encodeFrame(options: FrameOptions): Uint8Array<ArrayBuffer> {
  const payload = typeof options.payload === "string"
    ? enc(options.payload)
    : options.payload ?? new Uint8Array(0);
  const n = payload.length;
  const length = BigInt(options.length ?? n);
  const form = options.lengthForm ??
    (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const limit = form === 7 ? 125n : form === 16 ? 65535n : 2n ** 64n - 1n;
  if (length < 0n || length > limit) {
    throw new RangeError(`Length ${length} does not fit a ${form}-bit field`);
  }
  const key = options.mask === true
    ? crypto.getRandomValues(new Uint8Array(4))
    : options.mask === false || options.mask === undefined
    ? null
    : Uint8Array.from(options.mask);
  if (key !== null && key.length !== 4) {
    throw new RangeError(`A masking key has 4 bytes, not ${key.length}`);
  }
  const lengthBytes = form === 7 ? 0 : form === 16 ? 2 : 8;
  const head = 2 + lengthBytes + (key === null ? 0 : 4);
  const out = new Uint8Array(head + n);
  const view = new DataView(out.buffer);
  out[0] = (options.fin === false ? 0 : FIN) | ((options.rsv ?? 0) & 0x70) |
    (options.opcode & 0x0f);
  const maskBit = key === null ? 0 : 0x80;
  if (form === 7) out[1] = maskBit | Number(length);
  else if (form === 16) {
    out[1] = maskBit | 126;
    view.setUint16(2, Number(length));
  } else {
    out[1] = maskBit | 127;
    view.setBigUint64(2, length);
  }
  if (key === null) {
    out.set(payload, head);
  } else {
    out.set(key, head - 4);
    // A fresh copy (aligned, so it masks word by word). Not `slice()`: on a
    // Node `Buffer` that returns a view, and masking would change the caller's bytes.
    const body = new Uint8Array(payload);
    xorMask(body, key);
    out.set(body, head);
  }
  return out;
}

/** Several frames' bytes, back to back. */
export function encodeFrames(
  frames: readonly FrameOptions[],
): Uint8Array<ArrayBuffer> {
  return concat(...frames.map(encodeFrame));
}

/** A frame read from the wire by {@linkcode parseFrame}, its payload unmasked. */
export interface ParsedFrame {
  fin: boolean;
  /** RSV bits as they sit in the first byte. */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The masking key, or `null` for an unmasked frame. */
  key: Uint8Array | null;
  /** The payload, unmasked, in a copy of its own. */
  payload: Uint8Array;
  /** Whether the length used more bytes than needed (RFC 6455 §5.2 forbids it). */
  nonMinimalLength: boolean;
}

/**
 * Parses the frame at `bytes[start..end)`.
 *
 * @param bytes what the peer sent
 * @param start where the frame starts
 * @param end where the bytes received so far end
 * @param maxPayload the largest declared length to accept; any by default
 * @returns the frame and the offset after it, or `undefined` when the frame is
 *   not complete yet
 * @throws RangeError when the declared length exceeds `maxPayload`
 */
export function parseFrame(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
  maxPayload: number = Infinity,
): { frame: ParsedFrame; next: number } | undefined {
  if (end - start < 2) return undefined;
  const b0 = bytes[start];
  const b1 = bytes[start + 1];
  const masked = (b1 & 0x80) !== 0;
  let length = BigInt(b1 & 0x7f);
  let at = start + 2;
  let nonMinimalLength = false;
  if (length === 126n) {
    if (end - at < 2) return undefined;
    length = BigInt((bytes[at] << 8) | bytes[at + 1]);
    nonMinimalLength = length < 126n;
    at += 2;
  } else if (length === 127n) {
    if (end - at < 8) return undefined;
    length = new DataView(bytes.buffer, bytes.byteOffset + at, 8)
      .getBigUint64(0);
    nonMinimalLength = length < 65536n;
    at += 8;
  }
  if (Number.isFinite(maxPayload) && length > BigInt(maxPayload)) {
    throw new RangeError(
      `Declared frame length ${length} exceeds ${maxPayload}`,
    );
  }
  // Copies via the constructor: `slice()` on a Node `Buffer` would return a view.
  const key = masked ? new Uint8Array(bytes.subarray(at, at + 4)) : null;
  if (masked) at += 4;
  if (at > end || BigInt(end - at) < length) return undefined;
  const n = Number(length);
  const payload = new Uint8Array(bytes.subarray(at, at + n));
  if (key !== null) xorMask(payload, key);
  return {
    frame: {
      fin: (b0 & FIN) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0x0f,
      masked,
      key,
      payload,
      nonMinimalLength,
    },
    next: at + n,
  };
}

/**
 * Every complete frame in `bytes`, in order; an incomplete frame at the end is
 * left out (use {@linkcode parseFrame} to read incrementally).
 */
export function parseFrames(bytes: Uint8Array): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let at = 0;
  for (;;) {
    const parsed = parseFrame(bytes, at);
    if (parsed === undefined) return frames;
    frames.push(parsed.frame);
    at = parsed.next;
  }
}

/** The close code in a close frame, 1005 when it carries none, `undefined` for other frames. */
export function closeCodeOf(
  frame: Pick<ParsedFrame, "opcode" | "payload"> | undefined,
): number | undefined {
  if (frame === undefined || frame.opcode !== Op.Close) return undefined;
  return frame.payload.length >= 2
    ? (frame.payload[0] << 8) | frame.payload[1]
    : CLOSE_CODES.NoStatusReceived;
}
