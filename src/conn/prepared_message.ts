/**
 * Messages encoded once and written to many connections.
 *
 * @module
 */

import { encodeHeader, headerSize } from "../codec/header.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";

const encoder = new TextEncoder();

/**
 * A message framed once, for broadcasting: servers write its bytes to every
 * connection as they are, with no per-recipient encoding or copy beyond the
 * socket write. (Clients mask each frame, so a client connection re-frames it.)
 *
 * @example Broadcasting to every server connection
 * ```ts
 * import { OpCode, PreparedMessage } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const msg = new PreparedMessage(OpCode.Text, "hello, everyone");
 * assertEquals(msg.frame[0], 0x81); // FIN | text
 * assertEquals(msg.frame.length, 2 + 15);
 * // for (const conn of room) await conn.writePrepared(msg);
 * ```
 */
export class PreparedMessage {
  /** The message's opcode. */
  readonly opcode: DataOpCode;
  /** The payload. */
  readonly data: Uint8Array;
  /** The complete unmasked frame: header and payload. */
  readonly frame: Uint8Array;

  /**
   * Frames a message once.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; a string is encoded as UTF-8.
   */
  constructor(opcode: DataOpCode, data: Uint8Array | string) {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      throw new TypeError(`Not a data opcode: ${opcode}`);
    }
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    const head = headerSize(payload.length, false);
    const frame = new Uint8Array(head + payload.length);
    encodeHeader(frame, 0, 0x80 | opcode, payload.length, null);
    frame.set(payload, head);
    this.opcode = opcode;
    this.frame = frame;
    this.data = frame.subarray(head);
  }

  /**
   * The message compressed on its own (permessage-deflate, RFC 7692) as one
   * complete frame with RSV1 set: valid for every peer that agreed to no context
   * takeover for this direction with a window of `windowBits`, since it refers
   * to no earlier message. Made once per window, by the first connection that
   * asks, then shared by the others.
   *
   * @example The same bytes for two peers with the same window
   * ```ts
   * import { OpCode, PreparedMessage } from "@wsx/websocket";
   * import { assert, assertEquals } from "@std/assert";
   *
   * const msg = new PreparedMessage(OpCode.Text, "a".repeat(200));
   * let runs = 0;
   * const stored = (data: Uint8Array) => {
   *   runs++;
   *   return new Uint8Array([0x01, data.length, 0, ~data.length & 0xff, 0xff, ...data]);
   * };
   * const a = msg.deflatedFrame(15, stored);
   * const b = msg.deflatedFrame(15, stored);
   * assert(a === b);
   * assertEquals(runs, 1);
   * assertEquals((a as Uint8Array)[0], 0xc1); // FIN | RSV1 | text
   * ```
   *
   * @param windowBits The peers' agreed window, 8 to 15 bits.
   * @param compress Compresses a whole message with a fresh context and returns
   * the frame payload: sync-flushed, without its trailing `00 00 ff ff`.
   * @returns The frame, or a promise of it while an asynchronous engine runs.
   */
  deflatedFrame(
    windowBits: number,
    compress: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  ): Uint8Array | Promise<Uint8Array> {
    const cache = this.#deflated ??= new Map();
    let frame = cache.get(windowBits);
    if (frame === undefined) {
      const payload = compress(this.data);
      const first = 0xc0 | this.opcode;
      frame = payload instanceof Promise
        ? payload.then((p) => framed(first, p))
        : framed(first, payload);
      cache.set(windowBits, frame);
    }
    return frame;
  }

  #deflated: Map<number, Uint8Array | Promise<Uint8Array>> | null = null;
}

function framed(first: number, payload: Uint8Array): Uint8Array {
  const head = headerSize(payload.length, false);
  const frame = new Uint8Array(head + payload.length);
  encodeHeader(frame, 0, first, payload.length, null);
  frame.set(payload, head);
  return frame;
}
