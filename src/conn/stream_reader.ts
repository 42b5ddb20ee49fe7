/**
 * Streaming reads: one message's payload in pieces, into a buffer as small as
 * the caller likes, across its fragments, with control frames between them
 * answered on the way. Nothing of the message is buffered beyond the read buffer.
 *
 * @module
 */

import {
  checkHeader,
  describeFault,
  type FrameLimits,
} from "../codec/check.ts";
import { WebSocketError } from "../codec/errors.ts";
import { type Header, MAX_CONTROL_PAYLOAD, Rsv } from "../codec/header.ts";
import { maskInPlace } from "../codec/mask.ts";
import { type DataOpCode, isControl, OpCode } from "../codec/opcode.ts";
import { Utf8Validator } from "../codec/utf8.ts";
import type { FrameReader } from "../io/frame_reader.ts";
import type { CloseHandshake } from "./close_handshake.ts";
import type { ReadOptions } from "./deadlines.ts";
import type { HookSet } from "./hooks.ts";
import type { ControlHandler, MessageReader } from "./message_reader.ts";
import { byteStreamOf } from "../io/byte_stream.ts";

const EMPTY = new Uint8Array(0);

/**
 * Options of a streamed read.
 *
 * @example A 1 GiB upload on a connection whose messages are otherwise small
 * ```ts ignore
 * const msg = await conn.readMessageStream({ readLimit: 1 << 30 });
 * ```
 */
export interface MessageStreamOptions extends ReadOptions {
  /**
   * The largest message this stream accepts, in bytes (default: the connection's
   * read limit); larger ones still close with 1009. The frame limit rises with
   * it, unless `maxFrameSize` was set below the read limit.
   */
  readLimit?: number;
}

/**
 * One message read in pieces: its opcode and RSV bits are known at once, its
 * payload comes through {@linkcode MessageStream.read} into a buffer of the
 * caller's, or through {@linkcode MessageStream.readable}. Until the message is
 * read to its end (or discarded) no other read may run on the connection.
 *
 * @example A 5-byte message read through a 2-byte buffer
 * ```ts
 * import { Conn, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const frame = new Uint8Array([0x82, 0x05, 1, 2, 3, 4, 5]); // binary, unmasked
 * const readable = ReadableStream.from([frame]);
 * const conn = new Conn({ readable, writable: new WritableStream() }, { role: "client" });
 * const msg = await conn.readMessageStream();
 * assertEquals(msg.opcode, OpCode.Binary);
 * const buf = new Uint8Array(2);
 * const pieces: number[][] = [];
 * for (let n; (n = await msg.read(buf)) !== null;) pieces.push([...buf.subarray(0, n)]);
 * assertEquals(pieces, [[1, 2], [3, 4], [5]]);
 * conn.abort();
 * ```
 *
 * @example Hashing an upload of any size through a 4 KiB buffer
 * ```ts ignore
 * import { createHash } from "node:crypto";
 *
 * const msg = await conn.readMessageStream({ readLimit: 1 << 30 });
 * const hash = createHash("sha256");
 * const buf = new Uint8Array(4096);
 * for (let n; (n = await msg.read(buf)) !== null;) hash.update(buf.subarray(0, n));
 * console.log(hash.digest("hex"));
 * ```
 */
export interface MessageStream {
  /** `OpCode.Text` or `OpCode.Binary`. */
  readonly opcode: DataOpCode;
  /** The RSV bits of the message's first frame. */
  readonly rsv: number;
  /**
   * Reads the next piece of the payload into `buf`.
   *
   * @param buf Where the bytes go: any size from 1 byte.
   * @returns How many bytes were placed at the start of `buf` (at least 1), or
   * `null` once the message has ended.
   */
  read(buf: Uint8Array): Promise<number | null>;
  /**
   * The rest of the payload as a byte stream (a BYOB reader reads into its own
   * buffers); cancelling it discards the rest of the message.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /** Reads and drops the rest of the message: the connection may read again. */
  discard(): Promise<void>;
}

/** What the streaming reader of a connection works with. */
export interface StreamParts {
  frames: FrameReader;
  reader: MessageReader;
  limits: FrameLimits;
  control: ControlHandler;
  closing: CloseHandshake;
  hooks: HookSet | null;
  chunkSize: number;
  /** Runs one piece read under the stream's signal and the read timeout. */
  guard<T>(signal: AbortSignal | undefined, read: () => Promise<T>): Promise<T>;
}

/**
 * Reads messages in pieces for one connection: made on its first streamed read,
 * then reused. The state of the message sequence is the message reader's, so
 * streamed and whole reads may alternate.
 */
export class StreamReader {
  /** Whether a message is open: started and not yet read to its end. */
  open = false;
  /** Whether a piece read is waiting: the idle timer counts only these. */
  waiting = false;
  readonly #parts: StreamParts;
  readonly #utf8 = new Utf8Validator();
  readonly #control = new Uint8Array(MAX_CONTROL_PAYLOAD);
  #limits: FrameLimits;
  #generation = 0;
  #left = 0;
  #fin = false;
  #phase = 0;
  #text = false;
  #opcode: DataOpCode = OpCode.Binary;
  #rsv = 0;
  #length = 0;
  #signal: AbortSignal | undefined;

  constructor(parts: StreamParts) {
    this.#parts = parts;
    this.#limits = parts.limits;
  }

  /** Reads up to the first data frame of the next message, after `begin()`. */
  async start(
    options: MessageStreamOptions | undefined,
  ): Promise<MessageStream> {
    const { reader, limits } = this.#parts;
    try {
      this.#limits = options?.readLimit === undefined
        ? limits
        : raisedLimits(limits, options.readLimit);
    } catch (err) {
      reader.reading = false;
      throw err;
    }
    this.#signal = options?.signal;
    try {
      await reader.skipUnread();
      const h = await this.#nextFrame();
      this.#opcode = h.opcode as DataOpCode;
      this.#rsv = h.rsv;
      this.#text = h.opcode === OpCode.Text && (h.rsv & Rsv.Rsv1) === 0;
      this.#utf8.reset();
      this.#length = 0;
    } catch (err) {
      throw await this.#failed(err);
    }
    this.open = true;
    return new Stream(this, ++this.#generation, this.#opcode, this.#rsv);
  }

  /** Reads the next piece of message `generation` into `buf`. */
  read(generation: number, buf: Uint8Array): Promise<number | null> {
    if (generation !== this.#generation) return Promise.resolve(null);
    if (buf.length === 0) {
      return Promise.reject(new RangeError("Cannot read into an empty buffer"));
    }
    if (this.waiting) {
      return Promise.reject(
        new TypeError(
          "Cannot read: another read of this message is in progress",
        ),
      );
    }
    this.waiting = true;
    return this.#parts.guard(this.#signal, () => this.#piece(buf)).finally(
      () => this.waiting = false,
    );
  }

  async #piece(buf: Uint8Array): Promise<number | null> {
    const frames = this.#parts.frames;
    try {
      for (;;) {
        if (this.#left > 0) {
          const n = await frames.readPart(
            buf,
            0,
            Math.min(buf.length, this.#left),
          );
          this.#consume(buf, n);
          if (this.#text && !this.#utf8.push(buf, 0, n)) throw invalidUtf8();
          this.#length += n;
          return n;
        }
        if (this.#fin) return this.#end();
        await this.#nextFrame();
      }
    } catch (err) {
      throw await this.#failed(err);
    }
  }

  #end(): null {
    if (this.#text && !this.#utf8.complete) throw invalidUtf8();
    this.#generation++;
    this.open = false;
    this.#parts.reader.reading = false;
    this.#parts.hooks?.readMessage(this.#opcode, this.#rsv, null, this.#length);
    return null;
  }

  /**
   * Reads headers until a data frame's, answering the control frames before it.
   *
   * @returns The data frame's header.
   */
  async #nextFrame(): Promise<Header> {
    const { frames, control, hooks } = this.#parts;
    for (;;) {
      let size = frames.tryHeader();
      if (size === 0) size = await frames.readHeader();
      const h = this.#accept(size);
      if (!isControl(h.opcode)) {
        this.#left = h.length;
        this.#fin = h.fin;
        hooks?.readFrame(h, EMPTY);
        return h;
      }
      const payload = this.#control.subarray(0, h.length);
      for (let at = 0; at < h.length;) {
        const n = await frames.readPart(payload, at, h.length - at);
        this.#phase = h.masked
          ? maskInPlace(payload, h.mask, this.#phase, at, at + n)
          : 0;
        at += n;
      }
      hooks?.readFrame(h, payload);
      const pending = control.onControl(h, payload);
      if (pending !== undefined) await pending;
    }
  }

  #accept(size: number): Header {
    if (size < 0) {
      throw new WebSocketError(
        "invalid_length",
        "Frame length has the most significant bit set",
      );
    }
    const { frames, reader } = this.#parts;
    const h = frames.header;
    const fault = checkHeader(h, reader, this.#limits);
    if (fault !== null) {
      throw new WebSocketError(fault, describeFault(fault, h, this.#limits));
    }
    this.#phase = 0;
    return h;
  }

  #consume(buf: Uint8Array, n: number): void {
    const h = this.#parts.frames.header;
    if (h.masked) this.#phase = maskInPlace(buf, h.mask, this.#phase, 0, n);
    this.#left -= n;
  }

  async #failed(err: unknown): Promise<Error> {
    const { reader, closing } = this.#parts;
    this.#generation++;
    this.open = false;
    const error = await closing.readFailed(err);
    reader.reading = false;
    return error;
  }

  /** Reads the rest of message `generation` and drops it. */
  async discard(generation: number): Promise<void> {
    const scratch = new Uint8Array(this.#parts.chunkSize);
    while (generation === this.#generation) {
      if ((await this.read(generation, scratch)) === null) return;
    }
  }
}

/** One streamed message, as its reader hands it out. */
class Stream implements MessageStream {
  readonly opcode: DataOpCode;
  readonly rsv: number;
  readonly #reader: StreamReader;
  readonly #generation: number;
  #readable: ReadableStream<Uint8Array> | null = null;

  constructor(
    reader: StreamReader,
    generation: number,
    opcode: DataOpCode,
    rsv: number,
  ) {
    this.#reader = reader;
    this.#generation = generation;
    this.opcode = opcode;
    this.rsv = rsv;
  }

  read(buf: Uint8Array): Promise<number | null> {
    return this.#reader.read(this.#generation, buf);
  }

  discard(): Promise<void> {
    return this.#reader.discard(this.#generation);
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= byteStreamOf({
      read: (buf) => this.read(buf),
      cancel: () => this.discard(),
    });
  }
}

/** The limits with the message limit raised to `readLimit` for one stream. */
function raisedLimits(limits: FrameLimits, readLimit: number): FrameLimits {
  if (!Number.isSafeInteger(readLimit) || readLimit <= 0) {
    throw new RangeError(
      `readLimit must be a positive integer, got ${readLimit}`,
    );
  }
  return {
    expectMasked: limits.expectMasked,
    rsvAllowed: limits.rsvAllowed,
    maxFragments: limits.maxFragments,
    readLimit,
    maxFrameSize: limits.maxFrameSize < limits.readLimit
      ? limits.maxFrameSize
      : readLimit,
  };
}

function invalidUtf8(): WebSocketError {
  return new WebSocketError("invalid_utf8", "Text message is not valid UTF-8");
}
