/**
 * A compressed message read in pieces: compressed bytes come from the base
 * connection's stream a piece at a time, are inflated, and handed out through
 * the caller's buffers, so memory stays bounded whatever the message's size.
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import { Rsv } from "../codec/header.ts";
import type { DataOpCode } from "../codec/opcode.ts";
import { OpCode } from "../codec/opcode.ts";
import { Utf8Validator } from "../codec/utf8.ts";
import type { MessageStream } from "../conn/stream_reader.ts";
import { byteStreamOf } from "../io/byte_stream.ts";
import type { Decompressor } from "./compressor.ts";
import type { InflateOutput } from "./inflate_output.ts";

/**
 * The most compressed bytes inflated at a time. DEFLATE expands at most about
 * 1,032 times, so one piece's output stays below about 4 MiB whatever the data.
 */
export const COMPRESSED_PIECE = 4096;
/**
 * The inflated bytes a piece aims at: pieces shrink when the data compresses
 * well, so that the output buffer stays small and is reused (a larger one is
 * dropped at each piece, see `InflateOutput`).
 */
const TARGET_OUTPUT = 16 * 1024;
const MIN_PIECE = 8;
const EMPTY = new Uint8Array(0);

/** What an inflating stream needs from its connection. */
export interface InflateParts {
  inflater: Decompressor;
  output: InflateOutput;
  /** Compressed bytes are read into this (at least one byte). */
  scratch: Uint8Array;
  /** The most bytes the message may inflate to. */
  limit: number;
  /** Fails the connection for an error of the extension's. */
  fail(err: unknown): Promise<Error>;
  /** The message ended (or failed): the connection may read again. */
  done(ok: boolean, length: number): void;
}

/**
 * One message of a permessage-deflate connection, read in pieces: inflated
 * when it arrived compressed (text then checked as UTF-8 after inflation),
 * passed through otherwise.
 */
export class InflateStream implements MessageStream {
  readonly opcode: DataOpCode;
  readonly rsv: number;
  readonly #raw: MessageStream;
  readonly #parts: InflateParts;
  readonly #compressed: boolean;
  readonly #utf8: Utf8Validator | null;
  #readable: ReadableStream<Uint8Array> | null = null;
  /** Inflated bytes of the current piece already handed out. */
  #at = 0;
  #inputEnded = false;
  #busy = false;
  #piece = COMPRESSED_PIECE;
  #finished = false;
  #length = 0;

  constructor(raw: MessageStream, parts: InflateParts) {
    this.#raw = raw;
    this.#parts = parts;
    this.opcode = raw.opcode;
    this.rsv = raw.rsv;
    this.#compressed = (raw.rsv & Rsv.Rsv1) !== 0;
    this.#utf8 = this.#compressed && raw.opcode === OpCode.Text
      ? new Utf8Validator()
      : null;
    // The first piece starts empty: nothing to hand out until it is inflated.
    if (this.#compressed) parts.output.start(parts.limit);
  }

  async read(buf: Uint8Array): Promise<number | null> {
    if (this.#finished) return null;
    if (buf.length === 0) {
      throw new RangeError("Cannot read into an empty buffer");
    }
    if (this.#busy) {
      throw new TypeError(
        "Cannot read: another read of this message is in progress",
      );
    }
    this.#busy = true;
    try {
      return await this.#read(buf);
    } finally {
      this.#busy = false;
    }
  }

  async #read(buf: Uint8Array): Promise<number | null> {
    if (!this.#compressed) return this.#passThrough(buf);
    const out = this.#parts.output;
    for (;;) {
      const waiting = out.length - this.#at;
      if (waiting > 0) {
        const n = Math.min(waiting, buf.length);
        buf.set(out.data.subarray(this.#at, this.#at + n));
        this.#at += n;
        return n;
      }
      if (this.#inputEnded) return this.#end();
      await this.#inflateNext();
    }
  }

  async #passThrough(buf: Uint8Array): Promise<number | null> {
    const n = await this.#rawRead(buf);
    if (n !== null) {
      this.#length += n;
      return n;
    }
    return this.#end();
  }

  /** Reads the next compressed piece and inflates it into the output. */
  async #inflateNext(): Promise<void> {
    const { inflater, output, scratch, limit } = this.#parts;
    const n = await this.#rawRead(scratch.subarray(0, this.#piece));
    try {
      output.start(limit - this.#length);
      this.#at = 0;
      const fin = n === null;
      const done = inflater.decompress(
        fin ? EMPTY : scratch.subarray(0, n),
        fin,
        output,
      );
      if (done instanceof Promise) await done;
      this.#inputEnded = fin;
      this.#length += output.length;
      this.#adapt(output.length);
      if (this.#utf8 !== null) {
        if (!this.#utf8.push(output.buffer, 0, output.length)) {
          throw invalidUtf8();
        }
        if (fin && !this.#utf8.complete) throw invalidUtf8();
      }
    } catch (err) {
      this.#finished = true;
      this.#parts.done(false, this.#length);
      throw await this.#parts.fail(err);
    }
  }

  /** Sizes the next piece from what the last one inflated to. */
  #adapt(inflated: number): void {
    if (inflated > TARGET_OUTPUT) {
      this.#piece = Math.max(
        MIN_PIECE,
        Math.floor(this.#piece * TARGET_OUTPUT / inflated),
      );
    } else if (inflated < TARGET_OUTPUT / 4) {
      this.#piece = Math.min(COMPRESSED_PIECE, this.#piece * 2);
    }
  }

  /** A read of the base's stream, whose errors (answered there) propagate as they are. */
  async #rawRead(buf: Uint8Array): Promise<number | null> {
    try {
      return await this.#raw.read(buf);
    } catch (err) {
      this.#finished = true;
      this.#parts.done(false, this.#length);
      throw err;
    }
  }

  #end(): null {
    this.#finished = true;
    this.#parts.done(true, this.#length);
    return null;
  }

  async discard(): Promise<void> {
    const scratch = new Uint8Array(COMPRESSED_PIECE);
    while ((await this.read(scratch)) !== null) {
      // Dropped: only the end of the message matters.
    }
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= byteStreamOf({
      read: (buf) => this.read(buf),
      cancel: () => this.discard(),
    });
  }
}

function invalidUtf8(): WebSocketError {
  return new WebSocketError("invalid_utf8", "Text message is not valid UTF-8");
}
