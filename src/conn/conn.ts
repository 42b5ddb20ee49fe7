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
 *
 * @module
 */

import { CloseCode } from "../codec/close_code.ts";
import type { WebSocketError } from "../codec/errors.ts";
import type { Header } from "../codec/header.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import { FrameReader } from "../io/frame_reader.ts";
import { FrameWriter } from "../io/frame_writer.ts";
import { ByteSink, ByteSource, type Transport } from "../io/transport.ts";
import { CloseHandshake } from "./close_handshake.ts";
import { type ConnOptions, settingsOf } from "./conn_options.ts";
export type { ConnOptions } from "./conn_options.ts";
import { iterateMessages } from "./iterate_messages.ts";
import { IdleTimer, keepAlive } from "./keepalive.ts";
import { MessageReader } from "./message_reader.ts";
import { MessageWriter } from "./message_writer.ts";
import type { PreparedMessage } from "./prepared_message.ts";
import type { Frame, Message, WebSocketConn } from "./websocket_conn.ts";

const EMPTY = new Uint8Array(0);

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
  /** The largest message accepted, in bytes. */
  readonly readLimit: number;
  /** The read buffer, scratchpad and default fragment size, in bytes. */
  readonly chunkSize: number;
  /** The RSV bits the peer may set on a message's first frame (`Rsv.Rsv1` …). */
  readonly rsvAllowed: number;
  /** Resolves once the connection is closed, with the close code and reason. */
  readonly closed: Promise<{ code: CloseCode; reason: string }>;
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
    this.readLimit = settings.readLimit;
    this.chunkSize = settings.chunkSize;
    this.rsvAllowed = settings.rsvAllowed;
    this.onPing = options.onPing;
    this.onPong = options.onPong;
    this.onClose = options.onClose;
    const source = new ByteSource(transport, 0, options.read);
    const sink = new ByteSink(transport, options.read);
    const frames = new FrameReader(source, this.chunkSize, options.head);
    const writer = this.#writer = new FrameWriter(
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
    this.closed = closing.closed;
    const writes = this.#writes = new MessageWriter(writer, closing, this);
    // Only what the reader needs: the settings object itself is left behind.
    const limits = {
      expectMasked: settings.expectMasked,
      rsvAllowed: settings.rsvAllowed,
      readLimit: settings.readLimit,
      maxFrameSize: settings.maxFrameSize,
      maxFragments: settings.maxFragments,
      chunkSize: settings.chunkSize,
    };
    this.#reader = new MessageReader(frames, limits, {
      control: writes,
      failures: closing,
      replies: writer,
    });
    // Most connections have no idle timeout: no timer object for them.
    if (settings.idleTimeout > 0) {
      closing.idle = this.#idle = new IdleTimer(
        settings.idleTimeout,
        () => frames.reads,
        () => this.#reader.reading && !closing.finished,
        // A transport read is pending: no lingering read can go beside it.
        (error) => closing.fail(error, false),
      );
    }
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
   * @param buf Where the payload goes. Without it, a complete frame already in the
   * read buffer is returned in place (no copy), and others are gathered in an
   * internal buffer that grows up to the read limit.
   * @returns The message, valid until the next read.
   * @throws {CloseError} Once the peer has closed the connection.
   * @throws {WebSocketError} On a protocol error, or when the transport failed.
   */
  readMessage(buf?: Uint8Array): Promise<Message> {
    try {
      this.#enterRead();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#reader.readMessage(buf);
  }

  /**
   * Reads and validates the next frame header. Its payload (`header.length` bytes)
   * must then be read with {@linkcode Conn.readPayload}, or it is skipped by the
   * next read. Control frames are returned, not answered: at this level the caller
   * owns them (a close frame read here is answered by `close()`).
   *
   * @returns The header, valid until the next read.
   */
  readHeader(): Promise<Header> {
    return this.#lowLevelRead(() => this.#reader.readHeader());
  }

  /**
   * Reads the payload of the frame whose header was just read, unmasked, into `buf`.
   *
   * @param buf Where the payload goes; at least `header.length` bytes.
   * @returns A view of `buf` holding the payload.
   */
  readPayload(buf: Uint8Array): Promise<Uint8Array> {
    return this.#lowLevelRead(async () => {
      const payload = await this.#reader.readPayload(buf);
      const h = this.#reader.frame.header;
      if (h.opcode === OpCode.Close) this.#closing.noteReceived(payload);
      return payload;
    });
  }

  /**
   * Reads one frame of any kind into `buf`: header checks apply, but control frames
   * are not answered and text is not checked for UTF-8.
   *
   * @param buf Where the payload goes.
   * @returns The frame, whose header and payload are valid until the next read.
   */
  async readFrame(buf: Uint8Array): Promise<Frame> {
    await this.readHeader();
    const frame = this.#reader.frame;
    frame.payload = await this.readPayload(buf);
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

  async #lowLevelRead<T>(read: () => Promise<T>): Promise<T> {
    this.#enterRead();
    try {
      return await read();
    } catch (err) {
      throw await this.#closing.readFailed(err);
    } finally {
      this.#reader.reading = false;
    }
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
   */
  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
  ): Promise<void> {
    return this.#writes.writeFrame(fin, rsv, opcode, payload);
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
   */
  writeMessage(opcode: DataOpCode, data: Uint8Array | string): Promise<void> {
    return this.#writes.writeMessage(opcode, data);
  }

  /**
   * Writes a message framed once by {@linkcode PreparedMessage}: a server connection
   * writes its bytes as they are, so a broadcast costs one frame encoding in all.
   * A client masks each frame, so it frames the message again.
   *
   * @param message The prepared message.
   */
  writePrepared(message: PreparedMessage): Promise<void> {
    return this.#writes.writePrepared(message);
  }

  /**
   * Streams one message from a byte stream, in fragments of `chunkSize` bytes, with
   * one fragment of lookahead so that the last data frame carries FIN and no empty
   * trailing fragment is sent. Other data messages wait until it ends; pings and
   * pongs may go between its fragments. A source that fails after the first
   * fragment fails the connection (1011): the message cannot be finished.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param source The bytes: a `ReadableStream` or any async iterable.
   * @param chunkSize The fragment size, at most the connection's chunk size.
   * @throws {RangeError} When `chunkSize` exceeds the connection's chunk size.
   */
  streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize: number = this.chunkSize,
  ): Promise<void> {
    return this.#writes.streamMessage(opcode, source, chunkSize);
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
    try {
      for (;;) await this.readMessage();
    } catch {
      // The close frame, a failure or the timeout ends the drain.
    }
  }
}
