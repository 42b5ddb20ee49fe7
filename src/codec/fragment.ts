/**
 * Splitting a message into fragments (RFC 6455 §5.4). Pure.
 *
 * @module
 */

import type { FrameInit } from "./frame.ts";
import type { DataOpCode } from "./opcode.ts";

const encoder = new TextEncoder();

/**
 * How {@linkcode fragmentMessage} marks the frames it makes.
 *
 * @example Compressed fragments from a client
 * ```ts
 * import { type FragmentOptions, Rsv } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: FragmentOptions = { rsv: Rsv.Rsv1, mask: true };
 * assertEquals(options.rsv, 0x40);
 * ```
 */
export interface FragmentOptions {
  /** RSV bits for the first frame (extensions such as permessage-deflate); 0 by default. */
  rsv?: number;
  /** A masking key for every frame, `true` for a fresh random key per frame, or none. */
  mask?: Uint8Array | boolean;
}

/**
 * Splits a message into frames of at most `maxPayload` payload bytes: the first
 * carries the opcode (and RSV bits), the others are continuations, and only the
 * last has FIN. An empty message is one empty final frame. Payloads are views of
 * the message's bytes, not copies; encode the frames with {@linkcode encodeFrame}.
 *
 * @example "Hello" in three fragments
 * ```ts
 * import { encodeFrame, fragmentMessage, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const frames = fragmentMessage(OpCode.Text, "Hello", 2);
 * assertEquals(frames.map((f) => [f.opcode, f.fin]), [[1, false], [0, false], [0, true]]);
 * assertEquals([...encodeFrame(frames[2])], [0x80, 0x01, 0x6f]);
 * ```
 *
 * @param opcode `OpCode.Text` or `OpCode.Binary`.
 * @param message The payload; a string is split as UTF-8 bytes (a fragment may
 * end inside a character: receivers validate the whole message).
 * @param maxPayload The most payload bytes per frame, at least 1.
 * @param options RSV bits and masking.
 * @returns The frames, in order.
 * @throws {RangeError} When `maxPayload` is not a positive integer or the opcode
 * is not a data opcode.
 */
export function fragmentMessage(
  opcode: DataOpCode,
  message: Uint8Array | string,
  maxPayload: number,
  options: FragmentOptions = {},
): FrameInit[] {
  if (!Number.isSafeInteger(maxPayload) || maxPayload < 1) {
    throw new RangeError(
      `maxPayload must be a positive integer, got ${maxPayload}`,
    );
  }
  if (opcode !== 1 && opcode !== 2) {
    throw new RangeError(
      `Only text (1) and binary (2) messages fragment, not ${opcode}`,
    );
  }
  const bytes = typeof message === "string" ? encoder.encode(message) : message;
  const frames: FrameInit[] = [];
  let at = 0;
  do {
    const end = Math.min(at + maxPayload, bytes.length);
    frames.push({
      opcode: at === 0 ? opcode : 0,
      rsv: at === 0 ? options.rsv ?? 0 : 0,
      fin: end === bytes.length,
      payload: bytes.subarray(at, end),
      mask: options.mask,
    });
    at = end;
  } while (at < bytes.length);
  return frames;
}
