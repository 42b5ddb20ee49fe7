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
}
