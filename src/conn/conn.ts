/**
 * The WebSocket connection: frames, messages, control frames and the closing
 * handshake over any {@linkcode Transport}, composed of a message reader, a frame
 * writer, the closing handshake and the liveness timers.
 *
 * Invariants:
 * - The caller owns scheduling: no timer or task of the connection's runs unless
 *   a call of the caller's is awaiting it (reads, `close()`'s timeout,
 *   `keepAlive()`). One exception, shared by every connection: replies written
 *   while more input is buffered are held until the next macrotask at the latest
 *   (one `setImmediate` per batch, see `FrameWriter`), so that they leave together.
 * - Caller bytes are never mutated; small frames are copied at once, and a large
 *   frame's promise settles only after the transport has taken it.
 * - Frames are written whole: control frames may go between the fragments of a
 *   streamed message, never inside a frame, and data messages never interleave.
 * - Every protocol error is answered with the close code it maps to, then the
 *   transport is closed; the error sticks and every later read rejects with it.
 * - Views returned by reads are valid until the next read.
 * - A message gathered in the connection's own buffer has 16 bytes free before
 *   it: written back on the same connection (an echo), it gets its header
 *   there and leaves in one write, uncopied; none of its bytes change.
 * - Hooks, signals and timeouts cost nothing unless given: the plain read and
 *   write paths are the ones without them (see `hooks.ts`, `deadlines.ts`).
 * - A streamed message holds the read side until it is read to its end, and
 *   buffers nothing of it beyond the read buffer (see `stream_reader.ts`).
 *
 * Over 500 lines: every public method of the connection lives here, each with
 * its JSDoc example, and the signal/timeout/hook variants of each read and
 * write sit beside it as a private slow path so the plain call stays
 * allocation-free; moving those slow paths to their own file is the next
 * split.
 *
 * @module
 */

import { CloseCode } from "../codec/close_code.ts";
import { CloseError, type WebSocketError } from "../codec/errors.ts";
import type { Header } from "../codec/header.ts";
import { type DataOpCode, isControl, OpCode } from "../codec/opcode.ts";
import { FrameReader } from "../io/frame_reader.ts";
import { FrameWriter } from "../io/frame_writer.ts";
import { ByteSink, ByteSource, type Transport } from "../io/transport.ts";
import { CloseHandshake } from "./close_handshake.ts";
import { type ConnOptions, readLimitsOf, settingsOf } from "./conn_options.ts";
export type { ConnOptions } from "./conn_options.ts";
import { countBytes, type StreamOptions } from "./chunks.ts";
import { Deadlines, type ReadOptions, type WriteOptions } from "./deadlines.ts";
import { HookedFrameWriter, HookSet, registerHooks } from "./hooks.ts";
import { iterateMessages } from "./iterate_messages.ts";
import { smallBuffer } from "../_small_buffers.ts";
import { IdleTimer, keepAlive } from "./keepalive.ts";
import { MessageReader, type ReadLimits } from "./message_reader.ts";
import { MessageWriter } from "./message_writer.ts";
import type { PreparedMessage } from "./prepared_message.ts";
import {
  type MessageStream,
  type MessageStreamOptions,
  StreamReader,
} from "./stream_reader.ts";
import type { Frame, Message, WebSocketConn } from "./websocket_conn.ts";

const EMPTY = new Uint8Array(0);
/** The read buffer FrameReader starts with (its `INITIAL_BUFFER`). */
const IDLE_READ_BUFFER = 128;

/**
 * A WebSocket connection over a transport whose handshake is done.
 *
 * Reads go into preallocated buffers (the caller's, or the connection's own); writes
 * are assembled in a preallocated scratchpad. Use {@linkcode accept} or
 * {@linkcode dial} to get one from a raw socket; construct one directly over a
 * transport that has already been upgraded.
 *
 * @example An echo loop
 * ```ts ignore
 * import { Conn } from "@wsx/websocket";
 *
 * async function echo(tcp: Deno.Conn) {
 *   const conn = new Conn(tcp, { role: "server" });
 *   const buf = new Uint8Array(1 << 20);
 *   for (;;) {
 *     const msg = await conn.readMessage(buf); // rejects with CloseError at the end
 *     await conn.writeMessage(msg.opcode, msg.data);
 *   }
 * }
 * ```
 */
export class Conn implements WebSocketConn {
  /** Which side of the connection this is. */
  readonly role: "client" | "server";
  /** The subprotocol the handshake settled on, or `""`. */
  readonly protocol: string;
  /** The extensions the handshake settled on, or `""`. */
  readonly extensions: string;
  /** The peer's address: the transport's `remoteAddr`, or `null` when it has none. */
  readonly remoteAddr: Deno.Addr | null;
  /** This end's address: the transport's `localAddr`, or `null` when it has none. */
  readonly localAddr: Deno.Addr | null;
  /** Called with each ping's payload; the default (`undefined`) answers with a pong. */
  onPing: ((payload: Uint8Array) => void | Promise<void>) | undefined;
  /** Called with each pong's payload. */
  onPong: ((payload: Uint8Array) => void) | undefined;
  /** Called when the peer's close frame arrives, before it is answered. */
  onClose: ((code: CloseCode, reason: string) => void) | undefined;

  #writer: FrameWriter;
  #reader: MessageReader;
  #closing: CloseHandshake;
  #idle: IdleTimer | null = null;
  #writes: MessageWriter;
  #frames: FrameReader;
  #limits: ReadLimits;
  #hooks: HookSet | null = null;
  #deadlines: Deadlines | null = null;
  #streams: StreamReader | null = null;

  /**
   * Wraps a transport whose opening handshake is complete.
   *
   * @param transport A `Deno.Conn`, `Deno.TlsConn` or any byte stream pair.
   * @param options The role, limits and handlers.
   * @throws {RangeError} When a size option is out of range.
   */
  constructor(transport: Transport, options: ConnOptions) {
    const settings = settingsOf(options);
    this.role = options.role;
    this.protocol = options.protocol ?? "";
    this.extensions = options.extensions ?? "";
    // Shared by the connections with the same limits: read by getters below.
    const limits = this.#limits = readLimitsOf(settings);
    this.remoteAddr = addrOf(transport, "remoteAddr");
    this.localAddr = addrOf(transport, "localAddr");
    this.onPing = options.onPing;
    this.onPong = options.onPong;
    this.onClose = options.onClose;
    const source = new ByteSource(transport, 0, options.read);
    // The buffer an idle connection waits in, from a shared slab: FrameReader
    // keeps one of the size it starts with (reads go straight into it).
    if (source.direct && (options.head?.length ?? 0) <= IDLE_READ_BUFFER) {
      source.buffer = smallBuffer(Math.min(limits.chunkSize, IDLE_READ_BUFFER));
    }
    const sink = new ByteSink(transport, options.read);
    const frames = this.#frames = new FrameReader(
      source,
      this.chunkSize,
      options.head,
    );
    const hooks = options.hooks === undefined
      ? null
      : this.#hooks = new HookSet(options.hooks, this);
    const writer = this.#writer = hooks?.hooks.onWriteFrame === undefined
      ? new FrameWriter(
        sink,
        this.role === "client",
        this.chunkSize,
        settings.writeHighWaterMark,
        settings.writeBufferLimit,
        options.writeBudget ?? null,
      )
      : new HookedFrameWriter(
        hooks.wroteFrame,
        sink,
        this.role === "client",
        this.chunkSize,
        settings.writeHighWaterMark,
        settings.writeBufferLimit,
        options.writeBudget ?? null,
      );
    const closing = this.#closing = new CloseHandshake({
      transport,
      source,
      sink,
      frames,
      writer,
      role: this.role,
      closeTimeout: settings.closeTimeout,
    });
    const writes = this.#writes = new MessageWriter(writer, closing, this);
    const reader = this.#reader = new MessageReader(frames, limits, {
      control: writes,
      failures: closing,
      replies: writer,
    });
    if (hooks !== null) this.#installHooks(hooks);
    if (settings.readTimeout > 0 || settings.writeTimeout > 0) {
      this.#deadlines = new Deadlines(
        settings.readTimeout,
        settings.writeTimeout,
        { frames, reader, writer, closing },
      );
    }
    // Most connections have no idle timeout: no timer object for them.
    if (settings.idleTimeout > 0) {
      closing.idle = this.#idle = new IdleTimer(
        settings.idleTimeout,
        () => frames.reads,
        () =>
          this.#reader.reading && !closing.finished &&
          (this.#streams === null || !this.#streams.open ||
            this.#streams.waiting),
        // A transport read is pending: no lingering read can go beside it.
        (error) => closing.fail(error, false),
      );
    }
  }

  /** The largest message accepted, in bytes. */
  get readLimit(): number {
    return this.#limits.readLimit;
  }

  /** The read buffer, scratchpad and default fragment size, in bytes. */
  get chunkSize(): number {
    return this.#limits.chunkSize;
  }

  /** The RSV bits the peer may set on a message's first frame (`Rsv.Rsv1` …). */
  get rsvAllowed(): number {
    return this.#limits.rsvAllowed;
  }

  /** Resolves once the connection is closed, with the close code and reason. */
  get closed(): Promise<{ code: CloseCode; reason: string }> {
    return this.#closing.closed;
  }

  /** Bytes written by the caller but not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.#writer.bufferedAmount;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads one whole message, answering pings and the closing handshake on the way.
   *
   * Text is validated as UTF-8 as each piece arrives, so an invalid byte fails the
   * connection (1007) before the rest of the message is read. A message larger
   * than the read limit (or than `buf`) fails it with 1009 as soon as its header
   * says so, before anything is buffered.
   *
   * For messages larger than a buffer should be, read them in pieces with
   * {@linkcode Conn.readMessageStream}.
   *
   * @param buf Where the payload goes. Without it, a complete frame already in the
   * read buffer is returned in place (no copy), and others are gathered in an
   * internal buffer that grows up to the read limit.
   * @param options A signal that aborts the read (see {@linkcode ReadOptions}).
   * @returns The message, valid until the next read.
   * @throws {CloseError} Once the peer has closed the connection.
   * @throws {WebSocketError} On a protocol error, or when the transport failed.
   */
  readMessage(buf?: Uint8Array, options?: ReadOptions): Promise<Message> {
    try {
      this.#enterRead();
    } catch (err) {
      return Promise.reject(err);
    }
    if (
      options === undefined && this.#deadlines === null && this.#hooks === null
    ) {
      return this.#reader.readMessage(buf);
    }
    return this.#readMessageSlowly(buf, options);
  }

  /**
   * `readMessage` with a signal, timeouts or hooks: apart, so that the plain
   * path allocates no closure context.
   */
  #readMessageSlowly(
    buf: Uint8Array | undefined,
    options: ReadOptions | undefined,
  ): Promise<Message> {
    const read = options?.signal === undefined && this.#deadlines === null
      ? this.#reader.readMessage(buf)
      : this.#timedRead(
        options?.signal,
        this.#reader.atBoundary,
        () => this.#reader.readMessage(buf),
      );
    return this.#hooks === null
      ? read
      : read.then(this.#hooks.messageRead, this.#hooks.readError);
  }

  /**
   * Reads the next message in pieces, for messages of any size: the payload goes
   * into buffers of the caller's (`read(buf)`) or through a `ReadableStream`,
   * never gathered whole. Control frames between its fragments are answered;
   * text is checked as UTF-8 piece by piece (1007 at the first invalid byte).
   * The message must be read to its end (or discarded) before the next read.
   *
   * @example Streaming an upload to a file through a 4 KiB buffer
   * ```ts ignore
   * const msg = await conn.readMessageStream({ readLimit: 1 << 30 });
   * using file = await Deno.open("upload.bin", { write: true, create: true });
   * await msg.readable.pipeTo(file.writable);
   * ```
   *
   * @param options The signal, and a read limit for this message (raised above
   * the connection's when an upload needs it; larger messages close with 1009).
   * @returns The message, once its first data frame's header has arrived.
   * @throws {RangeError} For a read limit that is not a positive integer.
   */
  readMessageStream(options?: MessageStreamOptions): Promise<MessageStream> {
    try {
      this.#enterRead();
    } catch (err) {
      return Promise.reject(err);
    }
    const streams = this.#streams ??= this.#newStreamReader();
    const start = () => streams.start(options);
    const read = options?.signal === undefined && this.#deadlines === null
      ? start()
      : this.#timedRead(options?.signal, this.#reader.atBoundary, start);
    return this.#hooks === null ? read : read.catch(this.#hooks.readError);
  }

  /**
   * Reads and validates the next frame header. Its payload (`header.length` bytes)
   * must then be read with {@linkcode Conn.readPayload}, or it is skipped by the
   * next read. Control frames are returned, not answered: at this level the caller
   * owns them (a close frame read here is answered by `close()`).
   *
   * @param options A signal that aborts the read (see {@linkcode ReadOptions}).
   * @returns The header, valid until the next read.
   */
  readHeader(options?: ReadOptions): Promise<Header> {
    return this.#lowLevelRead(() => this.#reader.readHeader(), options, true);
  }

  /**
   * Reads the payload of the frame whose header was just read, unmasked, into `buf`.
   *
   * @param buf Where the payload goes; at least `header.length` bytes.
   * @param options A signal that aborts the read (the connection then fails).
   * @returns A view of `buf` holding the payload.
   */
  readPayload(buf: Uint8Array, options?: ReadOptions): Promise<Uint8Array> {
    return this.#lowLevelRead(async () => {
      const payload = await this.#reader.readPayload(buf);
      const h = this.#reader.frame.header;
      if (h.opcode === OpCode.Close) this.#closing.noteReceived(payload);
      this.#hooks?.readFrame(h, payload);
      return payload;
    }, options);
  }

  /**
   * Reads the next piece of the payload of the frame whose header was just read,
   * unmasked, into `buf`: a data frame of any size through a small buffer.
   * Control frames (at most 125 bytes) are read with {@linkcode Conn.readPayload}.
   *
   * @example Copying a frame of any size through 4 KiB
   * ```ts ignore
   * const h = await conn.readHeader();
   * const buf = new Uint8Array(4096);
   * for (let n; (n = await conn.readPayloadPart(buf)) !== null;) sink(buf.subarray(0, n));
   * ```
   *
   * @param buf Where the bytes go.
   * @param options A signal that aborts the read (the connection then fails).
   * @returns How many bytes were placed at the start of `buf`, or `null` once the
   * payload has been read whole.
   * @throws {TypeError} For a control frame's payload.
   */
  readPayloadPart(
    buf: Uint8Array,
    options?: ReadOptions,
  ): Promise<number | null> {
    const h = this.#reader.frame.header;
    if (isControl(h.opcode)) {
      return Promise.reject(
        new TypeError("Control frame payloads are read whole, by readPayload"),
      );
    }
    return this.#lowLevelRead(async () => {
      const n = await this.#reader.readPayloadPart(buf);
      if (n === null) this.#hooks?.readFrame(h, EMPTY);
      return n;
    }, options);
  }

  /**
   * Reads one frame of any kind into `buf`: header checks apply, but control frames
   * are not answered and text is not checked for UTF-8.
   *
   * @param buf Where the payload goes.
   * @param options A signal that aborts the read (see {@linkcode ReadOptions}).
   * @returns The frame, whose header and payload are valid until the next read.
   */
  async readFrame(buf: Uint8Array, options?: ReadOptions): Promise<Frame> {
    await this.readHeader(options);
    const frame = this.#reader.frame;
    frame.payload = await this.readPayload(buf, options);
    return frame;
  }

  /**
   * Iterates over messages until the peer closes the connection.
   *
   * Each message is valid until the next one is requested.
   *
   * @example
   * ```ts ignore
   * for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return iterateMessages(this);
  }

  #enterRead(): void {
    if (this.#closing.error !== null) throw this.#closing.error;
    this.#reader.begin();
    this.#idle?.arm();
  }

  async #lowLevelRead<T>(
    read: () => Promise<T>,
    options: ReadOptions | undefined,
    boundary = false,
  ): Promise<T> {
    this.#enterRead();
    const run = async () => {
      try {
        return await read();
      } catch (err) {
        throw await this.#closing.readFailed(err);
      }
    };
    try {
      if (options === undefined && this.#deadlines === null) return await run();
      return await this.#timedRead(
        options?.signal,
        boundary && this.#reader.atBoundary,
        run,
      );
    } catch (err) {
      this.#hooks?.readError(err);
      throw err;
    } finally {
      this.#reader.reading = false;
    }
  }

  /** Runs a read under `signal` and the read timeout (see `deadlines.ts`). */
  #timedRead<T>(
    signal: AbortSignal | undefined,
    boundary: boolean,
    read: () => Promise<T>,
  ): Promise<T> {
    return this.#deadlinesOf().read(signal, boundary, read);
  }

  /** Runs a write under `signal` and the write timeout (see `deadlines.ts`). */
  #timedWrite(
    options: WriteOptions | undefined,
    write: () => Promise<void>,
    timeout?: number,
  ): Promise<void> {
    const signal = options?.signal;
    const written = signal === undefined && this.#deadlines === null
      ? write()
      : this.#deadlinesOf().write(signal, write, timeout);
    return this.#hooks === null
      ? written
      : written.catch(this.#hooks.writeError);
  }

  #deadlinesOf(): Deadlines {
    return this.#deadlines ??= new Deadlines(0, 0, {
      frames: this.#frames,
      reader: this.#reader,
      writer: this.#writer,
      closing: this.#closing,
    });
  }

  #newStreamReader(): StreamReader {
    return new StreamReader({
      frames: this.#frames,
      reader: this.#reader,
      limits: this.#limits,
      control: this.#writes,
      closing: this.#closing,
      hooks: this.#hooks,
      chunkSize: this.chunkSize,
      guard: (signal, read) => {
        this.#idle?.arm();
        const piece = signal === undefined && this.#deadlines === null
          ? read()
          : this.#timedRead(signal, false, read);
        return this.#hooks === null
          ? piece
          : piece.catch(this.#hooks.readError);
      },
    });
  }

  #installHooks(hooks: HookSet): void {
    registerHooks(this, hooks);
    if (hooks.hooks.onReadFrame !== undefined) {
      this.#reader.onFrame = hooks.readFrame;
    }
    if (hooks.hooks.onClose === undefined) return;
    this.closed.then(({ code, reason }) => {
      const error = this.#closing.error;
      hooks.closed(code, reason, error instanceof CloseError ? null : error);
    });
  }

  /**
   * Fails the connection for a protocol error found above the framing layer, as
   * an extension does: sends the error's close code, drops the transport without
   * waiting for the peer's close, and makes every later read throw `error`.
   *
   * @example
   * ```ts
   * import { CloseCode, Conn, WebSocketError } from "@wsx/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
   * const conn = new Conn({ readable, writable }, { role: "server" });
   * const sent = readable.getReader().read();
   * await conn.fail(new WebSocketError("invalid_utf8", "Bad data"));
   * assertEquals((await conn.closed).code, CloseCode.InvalidFramePayloadData);
   * assertEquals((await sent).value?.[0], 0x88); // the close frame went out
   * ```
   *
   * @param error The error: its `closeCode` is sent.
   */
  fail(error: WebSocketError): Promise<void> {
    return this.#closing.fail(error, !this.#reader.reading);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes one frame with explicit FIN, RSV bits and opcode: the lowest-level write,
   * for fragmenting by hand or implementing extensions.
   *
   * @param fin Whether this is the message's final frame.
   * @param rsv RSV bits (`Rsv.Rsv1` …) as they sit in the first byte.
   * @param opcode The frame's opcode.
   * @param payload The payload: copied at once when it fits the scratchpad;
   * otherwise it must stay unchanged until the promise settles.
   * @param options A signal that aborts the write (see {@linkcode WriteOptions}).
   */
  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
    options?: WriteOptions,
  ): Promise<void> {
    if (
      options === undefined && this.#deadlines === null && this.#hooks === null
    ) {
      return this.#writes.writeFrame(fin, rsv, opcode, payload);
    }
    return this.#writeFrameSlowly(fin, rsv, opcode, payload, options);
  }

  #writeFrameSlowly(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
    options: WriteOptions | undefined,
  ): Promise<void> {
    return this.#timedWrite(
      options,
      () => this.#writes.writeFrame(fin, rsv, opcode, payload),
    );
  }

  /**
   * Writes one message as a single frame.
   *
   * Returns without waiting when the frame fits the scratchpad (below the high-water
   * mark): `data` may be reused as soon as the call returns, also while a streamed
   * message holds the write back (it is copied then). Use `flush()` to wait for
   * the transport.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; a string is encoded as UTF-8 straight into the scratchpad.
   * @param options A signal that aborts the write (see {@linkcode WriteOptions}).
   */
  writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options?: WriteOptions,
  ): Promise<void> {
    if (
      options === undefined && this.#deadlines === null && this.#hooks === null
    ) {
      return this.#writes.writeMessage(opcode, data);
    }
    return this.#writeMessageSlowly(opcode, data, options);
  }

  #writeMessageSlowly(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options: WriteOptions | undefined,
  ): Promise<void> {
    const written = this.#timedWrite(
      options,
      () => this.#writes.writeMessage(opcode, data),
    );
    const hooks = this.#hooks;
    if (hooks === null) return written;
    return written.then(() => hooks.wroteMessage(opcode, 0, data, 0));
  }

  /**
   * Writes a message framed once by {@linkcode PreparedMessage}: a server connection
   * writes its bytes as they are, so a broadcast costs one frame encoding in all.
   * A client masks each frame, so it frames the message again.
   *
   * @param message The prepared message.
   * @param options A signal that aborts the write (see {@linkcode WriteOptions}).
   */
  writePrepared(
    message: PreparedMessage,
    options?: WriteOptions,
  ): Promise<void> {
    if (
      options === undefined && this.#deadlines === null && this.#hooks === null
    ) {
      return this.#writes.writePrepared(message);
    }
    return this.#writePreparedSlowly(message, options);
  }

  #writePreparedSlowly(
    message: PreparedMessage,
    options: WriteOptions | undefined,
  ): Promise<void> {
    const written = this.#timedWrite(
      options,
      () => this.#writes.writePrepared(message),
    );
    const hooks = this.#hooks;
    if (hooks === null) return written;
    return written.then(() =>
      hooks.wroteMessage(message.opcode, 0, message.data, 0)
    );
  }

  /**
   * Writes bytes that are already one or more complete, unmasked frames, as they
   * are: several prepared frames for one peer in a single transport write (what
   * the hub does). Server connections only; the frames must be valid for this
   * connection (RSV bits it negotiated, no message left open).
   *
   * @param frames The frames; copied at once when they fit the scratchpad,
   * otherwise they must stay unchanged until the promise settles.
   */
  writeFrames(frames: Uint8Array): Promise<void> {
    return this.#writes.writeFrames(frames);
  }

  /**
   * Streams one message from a byte stream, in fragments of `chunkSize` bytes, with
   * one fragment of lookahead so that the last data frame carries FIN and no empty
   * trailing fragment is sent. Other data messages wait until it ends; pings and
   * pongs may go between its fragments. A source that fails after the first
   * fragment fails the connection (1011): the message cannot be finished.
   *
   * With `options.rsv`, the first frame carries those RSV bits, for an extension
   * implemented by the caller: only bits the connection allows (`rsvAllowed`,
   * as the handshake negotiated them). An aborted `options.signal` stops the
   * stream: before its first fragment nothing is sent; after, the connection
   * is dropped (1006, `write_aborted`), since the message cannot end.
   *
   * @example A message of a caller-implemented extension, marked with RSV2
   * ```ts ignore
   * await conn.streamMessage(OpCode.Binary, encoded, undefined, { rsv: Rsv.Rsv2 });
   * ```
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param source The bytes: a `ReadableStream` or any async iterable.
   * @param chunkSize The fragment size, at most the connection's chunk size.
   * @param options RSV bits for the first frame, and a signal.
   * @throws {RangeError} When `chunkSize` exceeds the connection's chunk size, or
   * `options.rsv` has bits the connection does not allow.
   */
  streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize: number = this.chunkSize,
    options?: StreamOptions,
  ): Promise<void> {
    const rsv = options?.rsv ?? 0;
    if (rsv !== 0 && (rsv & ~this.rsvAllowed) !== 0) {
      return Promise.reject(disallowedRsv(rsv, this.rsvAllowed));
    }
    const hooks = this.#hooks;
    if (options === undefined && hooks === null) {
      return this.#writes.streamMessage(opcode, source, chunkSize);
    }
    const counted = hooks === null ? null : countBytes(source);
    const written = this.#timedWrite(
      options,
      () =>
        this.#writes.streamMessage(
          opcode,
          counted ?? source,
          chunkSize,
          rsv,
        ),
      0,
    );
    if (counted === null) return written;
    return written.then(() =>
      hooks!.wroteMessage(opcode, rsv, null, counted.bytes)
    );
  }

  /**
   * Sends a ping. The pong comes back through reads (see `onPong`).
   *
   * @param payload Up to 125 bytes.
   */
  ping(payload: Uint8Array = EMPTY): Promise<void> {
    return this.writeFrame(true, 0, OpCode.Ping, payload);
  }

  /**
   * Sends an unsolicited pong: a one-way heartbeat.
   *
   * @param payload Up to 125 bytes.
   */
  pong(payload: Uint8Array = EMPTY): Promise<void> {
    return this.writeFrame(true, 0, OpCode.Pong, payload);
  }

  /** Waits until every frame written so far has been handed to the transport. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /**
   * Sends a ping every `intervalMs` until `signal` aborts or the connection closes;
   * if no pong arrived since the previous ping, the peer is taken as dead: the
   * connection is aborted and the call rejects. Pongs are seen by reads, so keep a
   * read loop running. Run it without awaiting it first, e.g.
   * `conn.keepAlive(30_000, signal).catch(log)`.
   *
   * @param intervalMs Time between pings, in ms.
   * @param signal Stops the keep-alive.
   * @throws {WebSocketError} With code `pong_timeout` when a ping went unanswered.
   */
  keepAlive(intervalMs: number, signal?: AbortSignal): Promise<void> {
    return keepAlive(
      {
        closed: this.closed,
        pongs: () => this.#writes.pongs,
        finished: () => this.#closing.finished,
        ping: () => this.ping(),
        abort: () => this.abort(),
      },
      intervalMs,
      signal,
    );
  }

  // ---------------------------------------------------------------- closing

  /**
   * Runs the closing handshake: sends a close frame, waits for the peer's (reading
   * and discarding messages if no read is in progress), then closes the transport.
   * After the close timeout the transport is closed anyway, and `closed` reports
   * 1006. Calling it again, or after the peer closed, just waits for the end.
   *
   * @param code The close code (default 1000, or the peer's code when a
   * frame-level read already returned its close frame).
   * @param reason Up to 123 bytes of UTF-8.
   * @throws {RangeError} For a code that may not be sent or a reason too long.
   */
  close(code?: CloseCode, reason = ""): Promise<void> {
    return this.#closing.close(code, reason, () => this.#drain());
  }

  /** Closes the transport at once, without a closing handshake. */
  abort(): void {
    this.#closing.shutdown(CloseCode.AbnormalClosure, "");
  }

  /** Reads and discards until the peer's close frame, unless a read is running. */
  async #drain(): Promise<void> {
    if (this.#reader.reading) return;
    for (;;) {
      try {
        await this.readMessage();
      } catch (err) {
        // A read timeout before any byte does not end it: the close timeout
        // bounds the drain. The close frame or a failure does.
        if (!isEarlyTimeout(err) || this.#closing.finished) return;
      }
    }
  }
}

/** A socket's address, read once: `Deno.Conn` and `NodeSocketTransport` have them. */
function addrOf(
  transport: Transport,
  which: "remoteAddr" | "localAddr",
): Deno.Addr | null {
  try {
    return (transport as { [k in typeof which]?: Deno.Addr | null })[which] ??
      null;
  } catch {
    return null; // A socket already closed.
  }
}

/** The error for RSV bits a connection does not allow on its messages. */
export function disallowedRsv(rsv: number, allowed: number): RangeError {
  const hex = (bits: number) => `0x${bits.toString(16).padStart(2, "0")}`;
  return new RangeError(
    `RSV bits ${hex(rsv)} are not allowed on this connection (rsvAllowed ${
      hex(allowed)
    })`,
  );
}

function isEarlyTimeout(err: unknown): boolean {
  return err instanceof DOMException && err.name === "TimeoutError";
}
