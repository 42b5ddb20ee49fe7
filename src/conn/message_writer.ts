/**
 * Messages to frames: a connection's writes, in call order, with streamed
 * messages holding other data messages back until they end.
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import { type DataOpCode, isControl, OpCode } from "../codec/opcode.ts";
import type { FrameWriter } from "../io/frame_writer.ts";
import {
  type ByteStream,
  checkDataOpCode,
  checkFragmentSize,
  forEachFragment,
} from "./chunks.ts";
import type { CloseHandshake } from "./close_handshake.ts";
import type { PreparedMessage } from "./prepared_message.ts";

const MAX_CONTROL_PAYLOAD = 125;
const FIN = 0x80;

/** The write half of a connection, over its frame writer. */
export class MessageWriter {
  readonly #writer: FrameWriter;
  readonly #closing: CloseHandshake;
  readonly #masks: boolean;
  readonly #chunkSize: number;
  /** Fails the connection (a stream that broke off mid-message). */
  readonly #fail: (error: WebSocketError) => Promise<void>;
  #lookahead: Uint8Array | null = null;
  #streaming: Promise<void> | null = null;

  constructor(
    writer: FrameWriter,
    closing: CloseHandshake,
    options: {
      role: "client" | "server";
      chunkSize: number;
      fail: (error: WebSocketError) => Promise<void>;
    },
  ) {
    this.#writer = writer;
    this.#closing = closing;
    this.#masks = options.role === "client";
    this.#chunkSize = options.chunkSize;
    this.#fail = options.fail;
  }

  /** Writes one frame as given, after checking what RFC 6455 requires of it. */
  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
  ): Promise<void> {
    if (isControl(opcode) && (!fin || payload.length > MAX_CONTROL_PAYLOAD)) {
      return Promise.reject(
        new RangeError("Control frames must be final and at most 125 bytes"),
      );
    }
    if ((rsv & ~0x70) !== 0 || opcode < 0 || opcode > 0xf) {
      return Promise.reject(new RangeError("Invalid RSV bits or opcode"));
    }
    const closing = this.#closing.refuseWrite();
    if (closing !== null) return closing;
    if (opcode === OpCode.Close) this.#closing.markCloseSent();
    return this.#writer.write((fin ? FIN : 0) | rsv | opcode, payload);
  }

  /** Writes one message as one frame; after a running stream, from a copy. */
  writeMessage(opcode: DataOpCode, data: Uint8Array | string): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      return Promise.reject(new TypeError(`Not a data opcode: ${opcode}`));
    }
    const closing = this.#closing.refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) {
      const copy = typeof data === "string" ? data : data.slice();
      return this.#streaming.then(() => this.writeMessage(opcode, copy));
    }
    return typeof data === "string"
      ? this.#writer.writeText(FIN | opcode, data)
      : this.#writer.write(FIN | opcode, data);
  }

  /** Writes a prepared frame as it is (servers), or frames it again (clients mask). */
  writePrepared(message: PreparedMessage): Promise<void> {
    if (this.#masks) return this.writeMessage(message.opcode, message.data);
    const closing = this.#closing.refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) {
      return this.#streaming.then(() => this.writePrepared(message));
    }
    return this.#writer.writeRaw(message.frame);
  }

  /**
   * Streams one message in fragments; a source that fails after the first
   * fragment went out fails the connection, since the message cannot end.
   */
  async streamMessage(
    opcode: DataOpCode,
    source: ByteStream,
    chunkSize: number = this.#chunkSize,
  ): Promise<void> {
    checkDataOpCode(opcode);
    checkFragmentSize(chunkSize, this.#chunkSize);
    while (this.#streaming !== null) await this.#streaming;
    let release!: () => void;
    this.#streaming = new Promise((resolve) => release = resolve);
    let first = FIN | opcode;
    let opened = false;
    try {
      const held = this.#lookahead ??= new Uint8Array(this.#chunkSize);
      await forEachFragment(source, held, chunkSize, (piece, last) => {
        const written = this.#closing.refuseWrite() ??
          this.#writer.write(last ? first : first & ~FIN, piece);
        opened ||= !last;
        first = OpCode.Continuation | FIN;
        return written;
      });
    } catch (err) {
      if (opened && !this.#closing.closeSent) {
        await this.#fail(
          new WebSocketError(
            "internal_error",
            "The streamed message failed before its end",
            { cause: err },
          ),
        );
      }
      throw err;
    } finally {
      this.#streaming = null;
      release();
    }
  }
}
