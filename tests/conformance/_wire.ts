/**
 * Frame bytes for the conformance harness, written from RFC 6455 §5.2 and kept
 * independent of `src/` so a bug in the library cannot hide the same bug here.
 *
 * @module
 */

/** Opcodes by name, as numbers so cases can also send reserved ones. */
export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close codes the harness sends or expects (RFC 6455 §7.4.1). */
export const Code = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  TooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
} as const;

/** Whether a close code may appear in a close frame (RFC 6455 §7.4). */
export function isSendableCode(c: number): boolean {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
    (c >= 3000 && c <= 4999);
}

/** RSV bits in the first header byte. */
export const Rsv = { Rsv1: 0x40, Rsv2: 0x20, Rsv3: 0x10 } as const;

/** A frame to put on the wire, possibly malformed on purpose. */
export interface FrameSpec {
  /** The opcode, 0-15. */
  opcode: number;
  /** The payload; empty by default. */
  payload?: Uint8Array;
  /** The FIN bit; `true` by default. */
  fin?: boolean;
  /** RSV bits as they sit in the first byte (`Rsv.Rsv1 | Rsv.Rsv3`); 0 by default. */
  rsv?: number;
  /** Forces a length form: 7, 16 or 64 bits, even when not minimal. */
  lengthForm?: 7 | 16 | 64;
  /** Writes this value in the 64-bit length field instead of the payload length. */
  declaredLength?: bigint;
  /** Overrides the role's masking (to send a frame masked the wrong way). */
  mask?: boolean;
}

/** A frame read from the wire, unmasked. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** Whether the length used more bytes than needed (RFC 6455 §5.2: a MUST). */
  nonMinimalLength: boolean;
}

/** Bytes for one frame; masked with a random key when `mask` is true (client to server). */
export function encodeFrame(spec: FrameSpec, roleMasks: boolean): Uint8Array {
  const mask = spec.mask ?? roleMasks;
  const payload = spec.payload ?? new Uint8Array(0);
  const n = payload.length;
  const form = spec.lengthForm ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const lengthBytes = form === 7 ? 0 : form === 16 ? 2 : 8;
  const headerLength = 2 + lengthBytes + (mask ? 4 : 0);
  // Pad in front so the payload starts on a 4-byte boundary for word-wise masking.
  const pad = (4 - (headerLength % 4)) % 4;
  const out = new Uint8Array(pad + headerLength + n).subarray(pad);
  out[0] = (spec.fin === false ? 0 : 0x80) | (spec.rsv ?? 0) |
    (spec.opcode & 0x0f);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (form === 7) {
    if (n > 125) throw new RangeError("payload too long for a 7-bit length");
    out[1] = n;
  } else if (form === 16) {
    if (n > 65535) throw new RangeError("payload too long for a 16-bit length");
    out[1] = 126;
    view.setUint16(2, n);
  } else {
    out[1] = 127;
    view.setBigUint64(2, spec.declaredLength ?? BigInt(n));
  }
  const body = out.subarray(headerLength);
  body.set(payload);
  if (mask) {
    out[1] |= 0x80;
    const key = crypto.getRandomValues(new Uint8Array(4));
    out.set(key, headerLength - 4);
    xorMask(body, key);
  }
  return out;
}

/** Bytes for several frames, back to back. */
export function joinFrames(specs: FrameSpec[], mask: boolean): Uint8Array {
  return concat(specs.map((s) => encodeFrame(s, mask)));
}

/** Masks or unmasks `data` in place with a 4-byte key (RFC 6455 §5.3). */
export function xorMask(data: Uint8Array, key: Uint8Array): void {
  const aligned = data.byteOffset % 4 === 0;
  let i = 0;
  if (aligned && data.length >= 16) {
    const words = new Uint32Array(
      data.buffer,
      data.byteOffset,
      data.length >>> 2,
    );
    const k = new Uint32Array(key.slice(0, 4).buffer)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= k;
    i = words.length * 4;
  }
  for (; i < data.length; i++) data[i] ^= key[i & 3];
}

/**
 * Parses one frame from `buf[start..end)`, unmasking its payload in place.
 *
 * @returns the frame and the offset after it, or `undefined` when more bytes are needed.
 * @throws RangeError when the declared length cannot be handled (above `maxPayload`).
 */
export function parseFrame(
  buf: Uint8Array,
  start: number,
  end: number,
  maxPayload: number,
): { frame: WireFrame; next: number } | undefined {
  if (end - start < 2) return undefined;
  const b0 = buf[start];
  const b1 = buf[start + 1];
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let offset = start + 2;
  let nonMinimalLength = false;
  if (length === 126) {
    if (end - offset < 2) return undefined;
    length = (buf[offset] << 8) | buf[offset + 1];
    nonMinimalLength = length < 126;
    offset += 2;
  } else if (length === 127) {
    if (end - offset < 8) return undefined;
    const view = new DataView(buf.buffer, buf.byteOffset + offset, 8);
    const big = view.getBigUint64(0);
    if (big > BigInt(maxPayload)) {
      throw new RangeError(
        `declared frame length ${big} exceeds ${maxPayload}`,
      );
    }
    length = Number(big);
    nonMinimalLength = length < 65536;
    offset += 8;
  }
  if (length > maxPayload) {
    throw new RangeError(
      `declared frame length ${length} exceeds ${maxPayload}`,
    );
  }
  const keyAt = offset;
  if (masked) offset += 4;
  if (end - offset < length) return undefined;
  const payload = buf.slice(offset, offset + length);
  if (masked) xorMask(payload, buf.subarray(keyAt, keyAt + 4));
  return {
    frame: {
      fin: (b0 & 0x80) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0x0f,
      masked,
      payload,
      nonMinimalLength,
    },
    next: offset + length,
  };
}

/** The payload of a close frame: a big-endian code and a reason. */
export function closePayload(
  code?: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const r = typeof reason === "string"
    ? new TextEncoder().encode(reason)
    : reason;
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
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

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Bytes from a hex string; spaces are ignored. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

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
  const phrase = utf8(
    "The quick brown fox jumps over the lazy dog 0123456789. ",
  );
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = phrase[i % phrase.length];
  return out;
}
