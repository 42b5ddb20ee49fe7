/**
 * The permessage-deflate decorator (RFC 7692): a connection that compresses and
 * inflates messages over a plain {@linkcode Conn}, forwarding everything else.
 *
 * Invariants:
 * - Control frames are never compressed; RSV1 on a control or continuation frame
 *   is refused by the base connection (1002), as is RSV1 on any frame when the
 *   base was not built with `rsvAllowed: Rsv.Rsv1`.
 * - A compressed message inflates into at most `readLimit` bytes: past that the
 *   connection closes with 1009, whatever the compression ratio.
 * - Text is validated as UTF-8 after inflation (1007).
 * - Data messages go out in call order, uncompressed ones included.
 * - Compressed output never contains a final (BFINAL) block.
 *
 * Over 500 lines: one decorator class that has to override every read and
 * write path of the connection interface (messages, streams, frames, prepared
 * and shared frames); the engines, negotiation and streamed inflation are
 * already in files of their own.
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import { WebSocketError } from "../codec/errors.ts";
import { Rsv } from "../codec/header.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import {
  type ByteStream,
  checkDataOpCode,
  checkFragmentSize,
  countBytes,
  forEachFragment,
  type StreamOptions,
} from "../conn/chunks.ts";
import { type Conn, disallowedRsv } from "../conn/conn.ts";
import type { ReadOptions, WriteOptions } from "../conn/deadlines.ts";
import { ForwardingConn } from "../conn/forwarding_conn.ts";
import { type HookSet, takeMessageHooks } from "../conn/hooks.ts";
import type { PreparedMessage } from "../conn/prepared_message.ts";
import type {
  MessageStream,
  MessageStreamOptions,
} from "../conn/stream_reader.ts";
import type { Message } from "../conn/websocket_conn.ts";
import {
  type Compressor,
  type Decompressor,
  endsWithSyncTrailer,
} from "./compressor.ts";
import { InflateOutput } from "./inflate_output.ts";
import { COMPRESSED_PIECE, InflateStream } from "./inflate_stream.ts";
import { encodeLent, giveBack } from "./text_scratch.ts";
import {
  checkDeflateOptions,
  type DeflateOptions,
  type DeflateParams,
} from "./negotiate.ts";
import { type Profile, profileOf } from "./profile.ts";

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const RESOLVED: Promise<void> = Promise.resolve();
/** The payload of an empty compressed message (RFC 7692 §7.2.3.6). */
const EMPTY_BLOCK = new Uint8Array([0x00]);

/** A connection's rarely needed parts: compressed reads, streams, queued writes. */
interface Extra {
  output: InflateOutput | null;
  scratch: Uint8Array | null;
  held: Uint8Array | null;
  compressAlone:
    | ((data: Uint8Array) => Uint8Array | Promise<Uint8Array>)
    | null;
  dequeue: (() => void) | null;
  tail: Promise<void>;
}

/**
 * A connection with permessage-deflate: messages at or above the threshold are
 * compressed (RSV1 set), compressed messages from the peer are inflated, and
 * everything else is the wrapped {@linkcode Conn}'s, which must have been built
 * with `rsvAllowed: Rsv.Rsv1`.
 */
export class PerMessageDeflateConn extends ForwardingConn {
  #base: Conn;
  /** Shared by every connection with the same options and parameters. */
  #profile: Profile;
  #compressor: Compressor | null = null;
  #decompressor: Decompressor | null = null;
  // Made on first use: an idle connection holds none of them.
  #onRaw: ((raw: Message) => Message | Promise<Message>) | null = null;
  #onRawError: ((err: unknown) => never) | null = null;
  /** What compressed messages, streams and queued writes need, made on first use. */
  #extra: Extra | null = null;
  /** The caller's buffer of the read in progress. */
  #target: Uint8Array | undefined;
  #reading = false;
  #readError: Error | null = null;
  #queued = 0;
  /** The message hooks of the base, called here with messages as the caller sees them. */
  #hooks: HookSet | null;
  /**
   * Whether the last {@linkcode #write} left the engine's output in use after
   * returning: compression still running, or a frame the base keeps until written.
   */
  #outputInUse = false;

  /**
   * Wraps a connection whose handshake agreed on permessage-deflate.
   *
   * @param base The connection, built with `rsvAllowed: Rsv.Rsv1`.
   * @param params The agreed parameters (all defaults when `null`).
   * @param options The level, threshold, engine and this side's preferences.
   * @throws {RangeError} For options out of range, or a window below 15 bits for
   * this side with an engine that cannot limit it.
   */
  constructor(
    base: Conn,
    params: DeflateParams | null,
    options: DeflateOptions = {},
  ) {
    checkDeflateOptions(options, base.role);
    super(base);
    this.#base = base;
    this.#profile = profileOf(base.role, params ?? DEFAULT_PARAMS, options);
    this.#hooks = takeMessageHooks(base, this);
  }

  /** The agreed parameters (frozen: shared by connections that agreed the same). */
  get params(): DeflateParams {
    return this.#profile.params;
  }

  /** The rarely needed parts, made on first use. */
  #extraOf(): Extra {
    return this.#extra ??= {
      output: null,
      scratch: null,
      held: null,
      compressAlone: null,
      dequeue: null,
      tail: RESOLVED,
    };
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads one whole message, inflating it when it arrived compressed (`rsv` then
   * has `Rsv.Rsv1`). Errors of its own close the connection with their code:
   * `invalid_compressed_data` and `invalid_utf8` (1007), `message_too_big` and
   * `buffer_too_small` (1009).
   */
  override readMessage(
    buf?: Uint8Array,
    options?: ReadOptions,
  ): Promise<Message> {
    if (this.#readError !== null) return Promise.reject(this.#readError);
    if (this.#reading) {
      return Promise.reject(
        new TypeError("Cannot read: another read is in progress"),
      );
    }
    this.#reading = true;
    this.#target = buf;
    // A chain of two bound callbacks rather than an async function: an idle
    // connection waits here, and a suspended async function costs more.
    // The base answers its own errors and keeps them: they propagate as they are.
    return this.#base.readMessage(undefined, options).then(
      this.#onRaw ??= this.#received.bind(this),
      this.#onRawError ??= this.#rawFailed.bind(this),
    );
  }

  /** The base's read failed: its error propagates as it is. */
  #rawFailed(err: unknown): never {
    this.#reading = false;
    throw err;
  }

  /** The message the base read, inflated when it arrived compressed. */
  #received(raw: Message): Message | Promise<Message> {
    const buf = this.#target;
    this.#target = undefined;
    // The base's message object, reused for every read as it is: its data
    // replaced by the inflated bytes (no object of our own per connection).
    const msg = raw;
    try {
      if ((raw.rsv & Rsv.Rsv1) === 0) {
        msg.data = buf === undefined ? raw.data : copyInto(raw.data, buf);
        return this.#deliver(msg);
      }
      const inflated = this.#inflate(raw.data, buf);
      if (inflated instanceof Promise) {
        return inflated.then(
          (data) => this.#checked(msg, data),
          (err) => this.#failRead(err),
        );
      }
      return this.#checked(msg, inflated);
    } catch (err) {
      return this.#failRead(err);
    }
  }

  /** Delivers an inflated message once its text is checked as UTF-8. */
  #checked(msg: Message, data: Uint8Array): Message | Promise<Message> {
    msg.data = data;
    if (msg.opcode === OpCode.Text && !this.#profile.checkUtf8(data)) {
      return this.#failRead(
        new WebSocketError("invalid_utf8", "Text message is not valid UTF-8"),
      );
    }
    return this.#deliver(msg);
  }

  #deliver(msg: Message): Message {
    this.#reading = false;
    this.#hooks?.readMessage(msg.opcode, msg.rsv, msg.data, msg.data.length);
    return msg;
  }

  /** Fails the connection for an error of a read, then rejects with it. */
  #failRead(err: unknown): Promise<never> {
    return this.#fail(err).then((error) => {
      this.#reading = false;
      throw error;
    });
  }

  /**
   * Reads the next message in pieces: a compressed one is inflated a piece at a
   * time (at most 4 KiB of compressed input, fewer when it compresses well, so
   * that a piece inflates to about 16 KiB), its text checked as UTF-8 as it
   * goes; its inflated size is bounded
   * by the read limit (or `options.readLimit`), past which the connection closes
   * with 1009.
   */
  override async readMessageStream(
    options?: MessageStreamOptions,
  ): Promise<MessageStream> {
    if (this.#readError !== null) throw this.#readError;
    if (this.#reading) {
      throw new TypeError("Cannot read: another read is in progress");
    }
    this.#reading = true;
    let raw: MessageStream;
    try {
      raw = await this.#base.readMessageStream(options);
    } catch (err) {
      this.#reading = false;
      throw err;
    }
    const inflater = (raw.rsv & Rsv.Rsv1) === 0 ? null : this.#decompressorOf();
    const extra = this.#extraOf();
    return new InflateStream(raw, {
      inflater: inflater!,
      output: extra.output ??= new InflateOutput(),
      scratch: extra.scratch ??= new Uint8Array(COMPRESSED_PIECE),
      limit: options?.readLimit ?? this.#base.readLimit,
      fail: (err) => this.#fail(err),
      done: (ok, length) => {
        this.#reading = false;
        if (inflater !== null && (this.#profile.resetAfterRead || !ok)) {
          inflater.reset();
        }
        if (ok) this.#hooks?.readMessage(raw.opcode, raw.rsv, null, length);
      },
    });
  }

  /** Inflates a message; synchronously when the engine is synchronous. */
  #inflate(
    data: Uint8Array,
    buf?: Uint8Array,
  ): Uint8Array | Promise<Uint8Array> {
    const out = this.#extraOf().output ??= new InflateOutput();
    out.start(this.#base.readLimit, buf);
    const inflater = this.#decompressorOf(this.#profile.resetAfterRead);
    const done = inflater.decompress(data, true, out);
    if (done instanceof Promise) {
      return done.then(() => this.#inflated(inflater, out));
    }
    return this.#inflated(inflater, out);
  }

  /** The inflater, made on first use (a stream's: without a reset hint). */
  #decompressorOf(noContextTakeover?: boolean): Decompressor {
    if (this.#decompressor !== null) return this.#decompressor;
    this.#releaseOnClose();
    return this.#decompressor = this.#profile.engine.decompressor({
      windowBits: this.#profile.peerWindowBits,
      ...(noContextTakeover === undefined ? {} : { noContextTakeover }),
    });
  }

  /** The compressor for this connection's messages, made on first use. */
  #compressorOf(): Compressor {
    if (this.#compressor !== null) return this.#compressor;
    this.#releaseOnClose();
    return this.#compressor = this.#newCompressor();
  }

  /** Before the first engine is made: its contexts go when the connection closes. */
  #releaseOnClose(): void {
    if (this.#compressor === null && this.#decompressor === null) {
      this.#base.closed.then(() => this.#release());
    }
  }

  #inflated(inflater: Decompressor, out: InflateOutput): Uint8Array {
    // Without context takeover the window goes (a pooled engine hands its
    // handle back before any other connection runs).
    if (this.#profile.resetAfterRead) inflater.reset();
    return out.data;
  }

  /** Fails the connection for an error of ours: closes with its code, keeps it. */
  async #fail(err: unknown): Promise<Error> {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#readError = error;
    await this.#base.fail(asWebSocketError(error));
    return error;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes one message as a single frame: compressed (RSV1 set) when it has at
   * least `threshold` bytes. Keep `data` unchanged until the promise settles (an
   * engine may compress it asynchronously).
   */
  override writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options?: WriteOptions,
  ): Promise<void> {
    if (this.#hooks === null) return this.#writeMessage(opcode, data, options);
    const hooks = this.#hooks;
    return this.#writeMessage(opcode, data, options).then(() =>
      hooks.wroteMessage(opcode, 0, data, 0)
    );
  }

  #writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options: WriteOptions | undefined,
  ): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      return Promise.reject(new TypeError(`Not a data opcode: ${opcode}`));
    }
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#queued > 0) {
      return this.#enqueue(() => this.#write(opcode, data, options));
    }
    // Below the threshold for sure: a string has at least as many bytes as units
    // and at most three times as many.
    const small = typeof data === "string"
      ? data.length * 3 < this.#profile.threshold
      : data.length < this.#profile.threshold;
    if (small) return this.#base.writeMessage(opcode, data, options);
    // Nothing queued: the message goes to the base connection now, and later
    // ones queue only while this one's compressed bytes are still in use.
    let written: Promise<void>;
    try {
      written = this.#write(opcode, data, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#outputInUse ? this.#track(written) : written;
  }

  /** Compresses one message (unless below the threshold) and hands it over. */
  #write(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options?: WriteOptions,
  ): Promise<void> {
    this.#outputInUse = false;
    const bytes = typeof data === "string" ? encodeLent(data) : data;
    if (bytes.length < this.#profile.threshold) {
      giveBack(bytes);
      return this.#base.writeMessage(opcode, data, options);
    }
    const compressor = this.#compressorOf();
    let packed: Uint8Array | Promise<Uint8Array>;
    try {
      packed = compressor.compress(bytes);
    } catch (err) {
      giveBack(bytes);
      throw err;
    }
    if (packed instanceof Promise) {
      this.#outputInUse = true;
      return packed.finally(() => giveBack(bytes)).then((done) =>
        this.#send(compressor, opcode, done, options)
      );
    }
    giveBack(bytes);
    // The base copies a frame that fits its scratchpad before returning; a larger
    // one it keeps until written, and the engine reuses its output buffer.
    this.#outputInUse = packed.length > this.#base.chunkSize;
    return this.#send(compressor, opcode, packed, options);
  }

  /** Hands a compressed message to the base connection as one RSV1 frame. */
  #send(
    compressor: Compressor,
    opcode: DataOpCode,
    packed: Uint8Array,
    options: WriteOptions | undefined,
  ): Promise<void> {
    const written = this.#base.writeFrame(
      true,
      Rsv.Rsv1,
      opcode,
      payloadOf(packed),
      options,
    );
    if (this.#profile.resetAfterWrite) compressor.reset();
    return written;
  }

  /**
   * Writes a message prepared for broadcast. Without context takeover for this
   * side (a server), the frame is shared: the prepared frame below the threshold,
   * above it the message compressed once on its own for every peer with the same
   * window ({@linkcode PreparedMessage.deflatedFrame}). Otherwise it is compressed
   * here like any message, since with context takeover every connection's
   * compressed bytes differ.
   */
  override writePrepared(
    message: PreparedMessage,
    options?: WriteOptions,
  ): Promise<void> {
    // A signal needs the write path that honours it: compress here.
    const frame = options === undefined ? this.frameFor(message) : null;
    if (frame === null) {
      return this.writeMessage(message.opcode, message.data, options);
    }
    if (frame instanceof Promise) {
      return this.#enqueue(() => frame.then((f) => this.#base.writeFrames(f)));
    }
    return this.writeFrames(frame);
  }

  /**
   * The frame this connection sends for a prepared message when it can be
   * shared with other connections (a server without context takeover for its
   * own messages), or `null` when this connection must compress it itself.
   *
   * @param message The prepared message.
   * @returns The frame, or a promise of it while an asynchronous engine runs.
   */
  frameFor(message: PreparedMessage): Uint8Array | Promise<Uint8Array> | null {
    const profile = this.#profile;
    if (!profile.resetAfterWrite || this.role === "client") return null;
    if (message.data.length < profile.threshold) return message.frame;
    const extra = this.#extraOf();
    return message.deflatedFrame(
      profile.ownWindowBits,
      extra.compressAlone ??= (data) => this.#compressOnItsOwn(data),
    );
  }

  /** Compresses one message with a context of its own, for sharing. */
  #compressOnItsOwn(data: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const compressor = this.#newCompressor();
    let packed: Uint8Array | Promise<Uint8Array>;
    try {
      packed = compressor.compress(data);
    } catch (err) {
      compressor.close();
      throw err;
    }
    if (packed instanceof Promise) {
      return packed.then((p) => payloadOf(p).slice()).finally(() =>
        compressor.close()
      );
    }
    const payload = payloadOf(packed).slice();
    compressor.close();
    return payload;
  }

  /**
   * Writes complete frames as they are, after the messages already written
   * (see `Conn.writeFrames`); compressed ones must be valid without context.
   *
   * @param frames The frames; keep them unchanged until the promise settles.
   */
  writeFrames(frames: Uint8Array): Promise<void> {
    if (this.#queued > 0) {
      return this.#enqueue(() => this.#base.writeFrames(frames));
    }
    return this.#base.writeFrames(frames);
  }

  /**
   * Streams one message, compressing each fragment on the fly: every fragment is
   * sync-flushed so that it can go out at once, RSV1 is set on the first only, and
   * the last one carries FIN. The threshold does not apply; the fragment size is
   * at most the base connection's chunk size, as for a plain connection.
   * `options.rsv` adds RSV bits of a caller's extension to the first frame (not
   * RSV1, which is compression's); `options.signal` aborts the stream, failing
   * the connection once a fragment went out.
   */
  override streamMessage(
    opcode: DataOpCode,
    source: ByteStream,
    chunkSize: number = this.#base.chunkSize,
    options?: StreamOptions,
  ): Promise<void> {
    const rsv = options?.rsv ?? 0;
    try {
      checkDataOpCode(opcode);
      checkFragmentSize(chunkSize, this.#base.chunkSize);
      if ((rsv & Rsv.Rsv1) !== 0) {
        throw new RangeError("RSV1 is permessage-deflate's: it cannot be set");
      }
      if ((rsv & ~this.#base.rsvAllowed) !== 0) {
        throw disallowedRsv(rsv, this.#base.rsvAllowed);
      }
      options?.signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    const hooks = this.#hooks;
    const counted = hooks === null ? null : countBytes(source);
    const written = this.#enqueue(() =>
      this.#stream(opcode, counted ?? source, chunkSize, rsv, options?.signal)
    );
    if (counted === null) return written;
    return written.then(() =>
      hooks!.wroteMessage(opcode, rsv | Rsv.Rsv1, null, counted.bytes)
    );
  }

  async #stream(
    opcode: DataOpCode,
    source: ByteStream,
    chunkSize: number,
    extraRsv: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const options = signal === undefined ? undefined : { signal };
    const compressor = this.#compressorOf();
    const extra = this.#extraOf();
    const held = extra.held ??= new Uint8Array(this.#base.chunkSize);
    let first = true;
    try {
      await forEachFragment(source, held, chunkSize, async (piece, last) => {
        let packed = compressor.compress(piece);
        if (packed instanceof Promise) packed = await packed;
        const rsv = first ? Rsv.Rsv1 | extraRsv : 0;
        const op = first ? opcode : OpCode.Continuation;
        first = false;
        await this.#base.writeFrame(
          last,
          rsv,
          op,
          last ? payloadOf(packed) : packed,
          options,
        );
      });
    } catch (err) {
      // A message left open after its first fragment: nothing may follow it.
      if (!first) await this.#base.fail(asWebSocketError(err, "stream"));
      throw err;
    }
    if (this.#profile.resetAfterWrite) compressor.reset();
  }

  #newCompressor(): Compressor {
    const profile = this.#profile;
    return profile.engine.compressor({
      level: profile.level,
      windowBits: profile.ownWindowBits,
      noContextTakeover: profile.resetAfterWrite,
    });
  }

  /** Runs writes one at a time, in call order; an idle queue runs at once. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    return this.#track(
      this.#queued === 0 ? task() : this.#extraOf().tail.then(task),
    );
  }

  /** Makes later writes wait for `run`. */
  #track(run: Promise<void>): Promise<void> {
    this.#queued++;
    const extra = this.#extraOf();
    const done = run.finally(
      extra.dequeue ??= () => {
        this.#queued--;
      },
    );
    extra.tail = done.catch(ignore);
    return done;
  }

  /** Waits until every message written so far has been handed to the transport. */
  override async flush(): Promise<void> {
    if (this.#extra !== null) await this.#extra.tail;
    await this.#base.flush();
  }

  // ---------------------------------------------------------------- closing

  /** Runs the closing handshake after the messages already written. */
  override async close(code?: CloseCode, reason?: string): Promise<void> {
    if (this.#extra !== null) await this.#extra.tail;
    await this.#base.close(code, reason);
  }

  #release(): void {
    this.#compressor?.close();
    this.#decompressor?.close();
    this.#compressor = this.#decompressor = null;
  }
}

/** The frame payload of a flushed message: without `00 00 ff ff`, never empty. */
function payloadOf(packed: Uint8Array): Uint8Array {
  if (!endsWithSyncTrailer(packed)) {
    return packed.length === 0 ? EMPTY_BLOCK : packed;
  }
  return packed.length === 4
    ? EMPTY_BLOCK
    : packed.subarray(0, packed.length - 4);
}

function copyInto(data: Uint8Array, buf: Uint8Array): Uint8Array {
  if (data.length > buf.length) {
    throw new WebSocketError(
      "buffer_too_small",
      `Cannot read a ${data.length}-byte message into a ${buf.length}-byte buffer`,
    );
  }
  buf.set(data);
  return buf.subarray(0, data.length);
}

/** The error to fail a connection with: protocol errors as they are, others as 1011. */
function asWebSocketError(err: unknown, what = "extension"): WebSocketError {
  if (err instanceof WebSocketError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WebSocketError(
    "internal_error",
    what === "stream" ? `The streamed message failed: ${message}` : message,
    { cause: err },
  );
}

function ignore(): void {}
