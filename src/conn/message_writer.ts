/**
 * The write half of a connection: messages to frames, in call order, with
 * streamed messages holding other data messages back until they end; and the
 * answers the protocol owes the peer's control frames (pongs, the close echo).
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import { WebSocketError } from "../codec/errors.ts";
import { FIN, type Header, MAX_CONTROL_PAYLOAD } from "../codec/header.ts";
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

/** The connection as its write half sees it: role, size and handlers. */
export interface WriterOwner {
  readonly role: "client" | "server";
  readonly chunkSize: number;
  readonly onPing: ((payload: Uint8Array) => void | Promise<void>) | undefined;
  readonly onPong: ((payload: Uint8Array) => void) | undefined;
  readonly onClose: ((code: CloseCode, reason: string) => void) | undefined;
  fail(error: WebSocketError): Promise<void>;
}

/** The write half of a connection, over its frame writer. */
export class MessageWriter {
  /** Pongs received so far, for keep-alive. */
  pongs = 0;
  readonly #writer: FrameWriter;
  readonly #closing: CloseHandshake;
  readonly #conn: WriterOwner;
  #lookahead: Uint8Array | null = null;
  #streaming: Promise<void> | null = null;
  // The owed pong (see #answerPing): its payload, and whether it waits unsent.
  #pong: Uint8Array | null = null;
  #pongLength = 0;
  #pongWaiting = false;
  #pongOwed: Promise<void> | null = null;

  constructor(writer: FrameWriter, closing: CloseHandshake, conn: WriterOwner) {
    this.#writer = writer;
    this.#closing = closing;
    this.#conn = conn;
  }

  /** Answers a complete control frame; returns a promise when that takes time. */
  onControl(h: Header, payload: Uint8Array): Promise<void> | undefined {
    const conn = this.#conn;
    if (h.opcode === OpCode.Ping) {
      if (this.#closing.closeSent) return;
      if (conn.onPing !== undefined) {
        const done = conn.onPing(payload);
        return done instanceof Promise ? done : undefined;
      }
      return this.#answerPing(payload);
    } else if (h.opcode === OpCode.Pong) {
      this.pongs++;
      conn.onPong?.(payload);
    } else {
      return this.#closing.receive(payload, conn.onClose);
    }
  }

  /**
   * Answers a ping with a pong: at once when the writer can take it, else owed.
   * While an owed pong waits unsent, a later ping replaces its payload (RFC 6455
   * §5.5.3 allows answering only the most recent) and the reader waits for it to
   * go: a peer that pings without reading meets TCP backpressure, not a queue.
   */
  #answerPing(payload: Uint8Array): Promise<void> | undefined {
    if (this.#pongWaiting) {
      this.#pong!.set(payload);
      this.#pongLength = payload.length;
      return this.#pongOwed!;
    }
    if (this.#writer.tryWrite(FIN | OpCode.Pong, payload)) return;
    (this.#pong ??= new Uint8Array(MAX_CONTROL_PAYLOAD)).set(payload);
    this.#pongLength = payload.length;
    this.#pongWaiting = true;
    const owed = this.#writer.writeLater(
      FIN | OpCode.Pong,
      () => this.#takePong(),
    )
      .then(() => {
        if (this.#pongOwed === owed) this.#pongOwed = null;
      }, ignore);
    this.#pongOwed = owed;
  }

  /** The owed pong's payload, copied: a later ping may reuse the buffer. */
  #takePong(): Uint8Array {
    this.#pongWaiting = false;
    return this.#pong!.slice(0, this.#pongLength);
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
    if (this.#streaming !== null) return this.#messageAfterStream(opcode, data);
    return typeof data === "string"
      ? this.#writer.writeText(FIN | opcode, data)
      : this.#writer.write(FIN | opcode, data);
  }

  /** Writes a prepared frame as it is (servers), or frames it again (clients mask). */
  writePrepared(message: PreparedMessage): Promise<void> {
    if (this.#conn.role === "client") {
      return this.writeMessage(message.opcode, message.data);
    }
    const closing = this.#closing.refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) return this.#preparedAfterStream(message);
    return this.#writer.writeRaw(message.frame);
  }

  /** Writes bytes that are already complete unmasked frames, as they are (servers). */
  writeFrames(frames: Uint8Array): Promise<void> {
    if (this.#conn.role === "client") {
      return Promise.reject(
        new TypeError("A client masks its frames: it cannot write them framed"),
      );
    }
    const closing = this.#closing.refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) return this.#framesAfterStream(frames);
    return this.#writer.writeRaw(frames);
  }

  // The writes that wait for a running stream, apart from the write methods: a
  // closure there would make every write allocate a context.

  #messageAfterStream(
    opcode: DataOpCode,
    data: Uint8Array | string,
  ): Promise<void> {
    const copy = typeof data === "string" ? data : data.slice();
    return this.#streaming!.then(() => this.writeMessage(opcode, copy));
  }

  #preparedAfterStream(message: PreparedMessage): Promise<void> {
    return this.#streaming!.then(() => this.writePrepared(message));
  }

  #framesAfterStream(frames: Uint8Array): Promise<void> {
    const copy = frames.slice();
    return this.#streaming!.then(() => this.writeFrames(copy));
  }

  /**
   * Streams one message in fragments; a source that fails after the first
   * fragment went out fails the connection, since the message cannot end.
   */
  async streamMessage(
    opcode: DataOpCode,
    source: ByteStream,
    chunkSize: number = this.#conn.chunkSize,
    rsv = 0,
  ): Promise<void> {
    checkDataOpCode(opcode);
    checkFragmentSize(chunkSize, this.#conn.chunkSize);
    while (this.#streaming !== null) await this.#streaming;
    let release!: () => void;
    this.#streaming = new Promise((resolve) => release = resolve);
    let first = FIN | rsv | opcode;
    let opened = false;
    try {
      const held = this.#lookahead ??= new Uint8Array(this.#conn.chunkSize);
      await forEachFragment(source, held, chunkSize, (piece, last) => {
        const written = this.#closing.refuseWrite() ??
          this.#writer.write(last ? first : first & ~FIN, piece);
        opened ||= !last;
        first = OpCode.Continuation | FIN;
        return written;
      });
    } catch (err) {
      if (opened && !this.#closing.closeSent) {
        await this.#conn.fail(
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

function ignore(): void {}
