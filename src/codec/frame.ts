/**
 * Whole frames as bytes (RFC 6455 §5.2): header and payload, masked or not, into
 * a caller's buffer or a new array. Pure apart from `crypto` for random keys.
 *
 * @module
 */

import {
  encodeHeader,
  FIN,
  headerSize,
  MAX_CONTROL_PAYLOAD,
} from "./header.ts";
import { maskInPlace, nextMaskKey } from "./mask.ts";
import { isControl } from "./opcode.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * One frame to encode: everything but the opcode has a default.
 *
 * @example A masked ping
 * ```ts
 * import { type FrameInit, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const ping: FrameInit = { opcode: OpCode.Ping, payload: "are you there?", mask: true };
 * assertEquals(ping.fin, undefined); // FIN is set by default
 * ```
 */
export interface FrameInit {
  /** The opcode (see {@linkcode OpCode}), 0-15. */
  opcode: number;
  /** The payload; a string is sent as UTF-8. Empty by default. */
  payload?: Uint8Array | string;
  /** The FIN bit: `true` (the default) for a message's last frame. */
  fin?: boolean;
  /** RSV bits as they sit in the first byte (`Rsv.Rsv1` …); 0 by default. */
  rsv?: number;
  /**
   * The 4-byte masking key, `true` for a fresh random one (what a client sends),
   * or `false`/absent for an unmasked frame (what a server sends).
   */
  mask?: Uint8Array | boolean;
}

/**
 * Tells how many bytes {@linkcode encodeFrame} writes for a frame.
 *
 * @example
 * ```ts
 * import { frameLength, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(frameLength({ opcode: OpCode.Text, payload: "Hello" }), 7);
 * assertEquals(frameLength({ opcode: OpCode.Text, payload: "Hello", mask: true }), 11);
 * ```
 *
 * @param frame The frame.
 * @returns Its size on the wire: header and payload.
 */
export function frameLength(frame: FrameInit): number {
  const n = typeof frame.payload === "string"
    ? encoder.encode(frame.payload).length
    : frame.payload?.length ?? 0;
  return headerSize(n, isMasked(frame.mask)) + n;
}

/**
 * Encodes a whole frame into `buf` at `offset`; the payload is copied (and
 * masked in the copy), never changed.
 *
 * @example The masked "Hello" of RFC 6455 §5.7
 * ```ts
 * import { encodeFrameInto, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const buf = new Uint8Array(64);
 * const mask = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * const n = encodeFrameInto(buf, 0, { opcode: OpCode.Text, payload: "Hello", mask });
 * assertEquals(
 *   [...buf.subarray(0, n)],
 *   [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
 * );
 * ```
 *
 * @param buf Where the frame goes.
 * @param offset Where in `buf` it begins.
 * @param frame The frame.
 * @returns The number of bytes written.
 * @throws {RangeError} When the frame does not fit in `buf` after `offset`, or
 * is invalid: an opcode outside 0-15, RSV bits outside 0x70, a key that is not 4
 * bytes, or a control frame with more than 125 bytes or without FIN.
 */
export function encodeFrameInto(
  buf: Uint8Array,
  offset: number,
  frame: FrameInit,
): number {
  const payload = payloadOf(frame.payload);
  const first = firstByte(frame, payload.length);
  const key = keyOf(frame.mask);
  const size = headerSize(payload.length, key !== null) + payload.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length) {
    throw new RangeError(
      `A ${size}-byte frame does not fit at offset ${offset} of a ${buf.length}-byte buffer`,
    );
  }
  const start = offset + encodeHeader(buf, offset, first, payload.length, key);
  buf.set(payload, start);
  if (key !== null) maskInPlace(buf, key, 0, start, start + payload.length);
  return size;
}

/**
 * Encodes a whole frame into a new array.
 *
 * @example An unmasked binary frame, as a server sends it
 * ```ts
 * import { encodeFrame, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeFrame({ opcode: OpCode.Binary, payload: new Uint8Array([1, 2]) });
 * assertEquals([...bytes], [0x82, 0x02, 1, 2]);
 * ```
 *
 * @param frame The frame.
 * @returns The frame's bytes.
 * @throws {RangeError} When the frame is invalid (see {@linkcode encodeFrameInto}).
 */
export function encodeFrame(frame: FrameInit): Uint8Array {
  const payload = payloadOf(frame.payload);
  const init = { ...frame, payload };
  const out = new Uint8Array(
    headerSize(payload.length, isMasked(frame.mask)) + payload.length,
  );
  encodeFrameInto(out, 0, init);
  return out;
}

/**
 * Makes a fresh random masking key (RFC 6455 §5.3), from `crypto.getRandomValues`.
 *
 * @example
 * ```ts
 * import { newMaskKey } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(newMaskKey().length, 4);
 * ```
 *
 * @returns A new 4-byte key.
 */
export function newMaskKey(): Uint8Array {
  const key = new Uint8Array(4);
  nextMaskKey(key);
  return key;
}

function payloadOf(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return EMPTY;
  return typeof payload === "string" ? encoder.encode(payload) : payload;
}

function isMasked(mask: FrameInit["mask"]): boolean {
  return mask !== undefined && mask !== false;
}

/** The first byte (FIN, RSV, opcode), after checking the frame's fields. */
function firstByte(frame: FrameInit, length: number): number {
  const { opcode, rsv = 0, fin = true } = frame;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xf) {
    throw new RangeError(`Opcode must be 0-15, got ${opcode}`);
  }
  if (!Number.isInteger(rsv) || (rsv & ~0x70) !== 0) {
    throw new RangeError(
      `RSV bits must be a combination of 0x40, 0x20 and 0x10, got ${rsv}`,
    );
  }
  if (isControl(opcode) && (length > MAX_CONTROL_PAYLOAD || !fin)) {
    throw new RangeError(
      `A control frame must be final and carry at most ${MAX_CONTROL_PAYLOAD} bytes`,
    );
  }
  return (fin ? FIN : 0) | rsv | opcode;
}

function keyOf(mask: FrameInit["mask"]): Uint8Array | null {
  if (mask === undefined || mask === false) return null;
  if (mask === true) return newMaskKey();
  if (mask.length !== 4) {
    throw new RangeError(`A masking key has 4 bytes, not ${mask.length}`);
  }
  return mask;
}
