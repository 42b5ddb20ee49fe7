/**
 * The WebSocket connection: frames, messages, control frames and the closing
 * handshake over any {@linkcode Transport}.
 *
 * Invariants:
 * - The caller owns scheduling: no timer or task runs unless a call of the caller's
 *   is awaiting it (reads, `close()`'s timeout, `keepAlive()`).
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

import {
  CloseCode,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from "../codec/close_code.ts";
import { CloseError, WebSocketError } from "../codec/errors.ts";
import { FrameReader } from "../io/frame_reader.ts";
import { iterateMessages } from "./iterate_messages.ts";
import { FrameWriter } from "../io/frame_writer.ts";
import type { PreparedMessage } from "./prepared_message.ts";
import { type Header, Rsv } from "../codec/header.ts";
import { ChunkSize, ReadLimit } from "../codec/limits.ts";
import { maskInPlace } from "../codec/mask.ts";
import {
  type DataOpCode,
  isControl,
  isKnownOpCode,
  OpCode,
} from "../codec/opcode.ts";
import {
  ByteSink,
  ByteSource,
  closeTransport,
  type ReadMode,
  type Transport,
} from "../io/transport.ts";
import { isValidUtf8, Utf8Validator } from "../codec/utf8.ts";
import type {
  CloseHandler,
  Frame,
  FrameConn,
  Message,
  PingHandler,
  PongHandler,
} from "./websocket_conn.ts";

/**
 * How a {@linkcode Conn} behaves: its role, limits and handlers.
 *
 * @example A server connection with a 64 KiB message limit
 * ```ts
 * import { type ConnOptions, ReadLimit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ConnOptions = { role: "server", readLimit: ReadLimit.Small };
 * assertEquals(options.readLimit, 65536);
 * ```
 */
export interface ConnOptions {
  /** Which side this is: clients mask their frames, servers expect masked ones. */
  role: "client" | "server";
  /** The largest message accepted, in bytes (default 1 MiB); larger ones close with 1009. */
  readLimit?: number;
  /** The read buffer, write scratchpad and default fragment size (default 4 KiB). */
  chunkSize?: number;
  /** The largest frame accepted, in bytes (default: the read limit); larger ones close with 1009. */
  maxFrameSize?: number;
  /** The most fragments one message may have (default 262,144); more close with 1009. */
  maxFragments?: number;
  /** How long `close()` waits for the peer's close frame, in ms (default 5,000). */
  closeTimeout?: number;
  /** Bytes already read from the transport: the start of the frame stream. */
  head?: Uint8Array;
  /** The subprotocol the handshake settled on. */
  protocol?: string;
  /** The extensions the handshake settled on, as a header value. */
  extensions?: string;
  /** RSV bits an extension negotiated (`Rsv.Rsv1` for permessage-deflate). */
  rsvAllowed?: number;
  /** `"auto"` calls a `Deno.Conn`'s `read`/`write` directly; `"byob"` uses its streams. */
  read?: ReadMode;
  /** Bytes that may wait in the write scratchpad before writers wait (default: chunk size). */
  writeHighWaterMark?: number;
  /**
   * Bytes that may wait in the write queue before further writes are refused with
   * `write_buffer_full` (default 16 MiB). A single write is always taken when
   * nothing waits; awaiting each write keeps the queue empty.
   */
  writeBufferLimit?: number;
  /**
   * Fails the connection with 1001 when nothing arrives for this many ms while a
   * read is waiting (default 0: off). The timer runs only while the caller reads.
   */
  idleTimeout?: number;
  /** Called for each ping; the default answers with a pong. */
  onPing?: PingHandler;
  /** Called for each pong. */
  onPong?: PongHandler;
  /** Called when the peer's close frame arrives. */
  onClose?: CloseHandler;
}

const DEFAULT_CLOSE_TIMEOUT = 5_000;
/** The longest a failed connection waits for the peer to hang up, in ms. */
const MAX_LINGER = 1_000;
const DEFAULT_MAX_FRAGMENTS = 1 << 18;
const DEFAULT_WRITE_BUFFER_LIMIT = 16 << 20;
/** An internal message buffer larger than this is not kept for small messages. */
const RETAINED_BUFFER_BYTES = 64 * 1024;
const MIN_CHUNK_SIZE = 64;
const MAX_CONTROL_PAYLOAD = 125;
const EMPTY = new Uint8Array(0);
const FIN = 0x80;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

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
export class Conn implements FrameConn {
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
  /** Resolves once the connection is closed, with the close code and reason. */
  readonly closed: Promise<{ code: CloseCode; reason: string }>;
  /** Called for each ping; the default (`undefined`) answers with a pong. */
  onPing: PingHandler | undefined;
  /** Called for each pong. */
  onPong: PongHandler | undefined;
  /** Called when the peer's close frame arrives. */
  onClose: CloseHandler | undefined;

  #transport: Transport;
  #source: ByteSource;
  #sink: ByteSink;
  #reader: FrameReader;
  #writer: FrameWriter;
  #rsvAllowed: number;
  #maxFragments: number;
  #maxFrameSize: number;
  #closeTimeout: number;
  #idleTimeout: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleReads = 0;

  // Frame sequencing, updated as each header is read.
  #inMessage = false;
  #messageOpcode = 0;
  #messageLength = 0;
  #fragments = 0;
  #payloadLeft = 0;

  // Message reading.
  #utf8 = new Utf8Validator();
  #validateUtf8 = false;
  #control = new Uint8Array(MAX_CONTROL_PAYLOAD);
  #internal: Uint8Array | null = null;
  #message: Message = { opcode: OpCode.Binary, data: EMPTY, rsv: 0 };
  #frame: Frame;
  #viewBase: Uint8Array | null = null;
  #view: Uint8Array = EMPTY;
  #resolvedMessage: Promise<Message>;
  #reading = false;
  #readError: Error | null = null;
  // The message being read: where it goes and how far it got.
  #target: Uint8Array | undefined;
  #dest: Uint8Array = EMPTY;
  #filled = 0;
  #inFrame = false;
  #phase = 0;

  // Writing and closing.
  #lookahead: Uint8Array | null = null;
  #streaming: Promise<void> | null = null;
  #closeSent = false;
  #finished = false;
  #pongs = 0;
  #resolveClosed!: (info: { code: CloseCode; reason: string }) => void;

  /**
   * Wraps a transport whose opening handshake is complete.
   *
   * @param transport A `Deno.Conn`, `Deno.TlsConn` or any byte stream pair.
   * @param options The role, limits and handlers.
   * @throws {RangeError} When a size option is out of range.
   */
  constructor(transport: Transport, options: ConnOptions) {
    if (options.role !== "client" && options.role !== "server") {
      throw new TypeError(`Invalid role: ${options.role}`);
    }
    this.role = options.role;
    this.protocol = options.protocol ?? "";
    this.extensions = options.extensions ?? "";
    this.readLimit = positive(
      "readLimit",
      options.readLimit ?? ReadLimit.Standard,
    );
    this.chunkSize = positive(
      "chunkSize",
      options.chunkSize ?? ChunkSize.LowMemory,
    );
    if (this.chunkSize < MIN_CHUNK_SIZE) {
      throw new RangeError(
        `Chunk size must be at least ${MIN_CHUNK_SIZE} bytes`,
      );
    }
    this.#maxFragments = positive(
      "maxFragments",
      options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
    );
    this.#maxFrameSize = positive(
      "maxFrameSize",
      options.maxFrameSize ?? this.readLimit,
    );
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#idleTimeout = options.idleTimeout ?? 0;
    this.#rsvAllowed = options.rsvAllowed ?? 0;
    this.onPing = options.onPing;
    this.onPong = options.onPong;
    this.onClose = options.onClose;
    this.#transport = transport;
    this.#source = new ByteSource(transport, 0, options.read);
    this.#sink = new ByteSink(transport, options.read);
    this.#reader = new FrameReader(this.#source, this.chunkSize, options.head);
    this.#writer = new FrameWriter(
      this.#sink,
      this.role === "client",
      this.chunkSize,
      options.writeHighWaterMark,
      options.writeBufferLimit ?? DEFAULT_WRITE_BUFFER_LIMIT,
    );
    this.#frame = { header: this.#reader.header, payload: EMPTY };
    this.#resolvedMessage = Promise.resolve(this.#message);
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** Bytes written by the caller but not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.#writer.bufferedAmount;
  }

  /** The RSV bits the peer may set on a message's first frame (`Rsv.Rsv1` …). */
  get rsvAllowed(): number {
    return this.#rsvAllowed;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads and validates the next frame header. Its payload (`header.length` bytes)
   * must then be read with {@linkcode Conn.readPayload}, or it is skipped by the
   * next read. Control frames are returned, not answered: at this level the caller
   * owns them.
   *
   * @returns The header, valid until the next read.
   */
  async readHeader(): Promise<Header> {
    this.#enterRead();
    try {
      return await this.#nextHeader();
    } catch (err) {
      throw await this.#readFailed(err);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Reads the payload of the frame whose header was just read, unmasked, into `buf`.
   *
   * @param buf Where the payload goes; at least `header.length` bytes.
   * @returns A view of `buf` holding the payload.
   */
  async readPayload(buf: Uint8Array): Promise<Uint8Array> {
    this.#enterRead();
    try {
      const header = this.#reader.header;
      const length = this.#payloadLeft;
      if (length > buf.length) {
        throw new WebSocketError(
          "buffer_too_small",
          `Cannot read a ${length}-byte payload into a ${buf.length}-byte buffer`,
        );
      }
      await this.#readPayloadInto(buf, 0, header, false);
      return this.#viewOf(buf, length);
    } catch (err) {
      throw await this.#readFailed(err);
    } finally {
      this.#reading = false;
    }
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
    this.#frame.payload = await this.readPayload(buf);
    return this.#frame;
  }

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
    this.#target = buf;
    const step = this.#run();
    // The message object is reused, so one resolved promise serves every read
    // that completes from buffered bytes: such reads allocate nothing.
    return step === this.#message
      ? this.#resolvedMessage
      : step as Promise<Message>;
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
    if (this.#readError !== null) throw this.#readError;
    if (this.#reading) {
      throw new TypeError("Cannot read: another read is in progress");
    }
    this.#reading = true;
    if (this.#idleTimeout > 0 && this.#idleTimer === undefined) this.#armIdle();
  }

  #armIdle(): void {
    this.#idleReads = this.#reader.reads;
    this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeout);
  }

  #onIdle = (): void => {
    this.#idleTimer = undefined;
    if (this.#finished || !this.#reading) return;
    if (this.#reader.reads !== this.#idleReads) return this.#armIdle();
    // A transport read is pending: no lingering read can go beside it.
    this.#fail(
      new WebSocketError(
        "idle_timeout",
        `Nothing received for ${this.#idleTimeout} ms`,
      ),
      false,
    );
  };

  /**
   * Reads as far as the buffered bytes go, then reads the transport and resumes:
   * the message when complete, or a promise of it.
   */
  #run = (): Message | Promise<Message> => {
    let step: Message | null | Promise<Message>;
    try {
      step = this.#advance();
    } catch (err) {
      return this.#rejectRead(err);
    }
    if (step === null) return this.#readMore();
    if (step === this.#message) {
      this.#reading = false;
      // More input is already here: replies wait to go out with the next ones.
      if (this.#reader.buffered > 0) this.#writer.hold();
    }
    return step;
  };

  #readMore(): Promise<Message> {
    const reader = this.#reader;
    // After a read that filled the buffer the next one is likely served at once:
    // replies keep gathering across it (the writer releases them by the next
    // macrotask regardless).
    if (!reader.filled) this.#writer.release();
    if (
      this.#inFrame && this.#payloadLeft >= reader.capacity &&
      reader.buffered === 0 && reader.direct && !isControl(reader.header.opcode)
    ) {
      return reader.readDirect(this.#dest, this.#filled, this.#payloadLeft)
        .then(this.#afterDirect, this.#rejectRead);
    }
    return reader.fill().then(this.#afterFill, this.#rejectRead);
  }

  #afterFill = (n: number | null): Message | Promise<Message> => {
    try {
      this.#reader.commit(n);
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#run();
  };

  #afterDirect = (n: number): Message | Promise<Message> => {
    try {
      this.#took(n);
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#run();
  };

  #rejectRead = (err: unknown): Promise<never> => {
    return this.#readFailed(err).then((error) => {
      this.#reading = false;
      throw error;
    });
  };

  /**
   * Consumes buffered bytes: headers, payload pieces, control frames.
   *
   * @returns The message when complete, `null` when more bytes are needed, or a
   * promise when a control frame needs asynchronous work (which then resumes).
   */
  #advance(): Message | null | Promise<Message> {
    const reader = this.#reader;
    for (;;) {
      if (!this.#inFrame) {
        if (this.#payloadLeft > 0) {
          // Payload a low-level readHeader() left unread.
          this.#payloadLeft -= reader.skipBuffered(this.#payloadLeft);
          if (this.#payloadLeft > 0) return null;
        }
        const size = reader.tryHeader();
        if (size === 0) return null;
        const h = this.#accept(size);
        this.#inFrame = true;
        this.#phase = 0;
        if (!isControl(h.opcode)) {
          const inPlace = this.#startFrame(h);
          if (inPlace !== null) return inPlace;
        }
      }
      const h = reader.header;
      if (isControl(h.opcode)) {
        const at = h.length - this.#payloadLeft;
        const n = reader.copyAvailable(this.#control, at, this.#payloadLeft);
        if (h.masked) {
          this.#phase = maskInPlace(
            this.#control,
            h.mask,
            this.#phase,
            at,
            at + n,
          );
        }
        this.#payloadLeft -= n;
        if (this.#payloadLeft > 0) return null;
        this.#inFrame = false;
        const pending = this.#onControl(h);
        if (pending !== undefined) {
          return pending.then(this.#run, this.#rejectRead);
        }
        continue;
      }
      if (this.#payloadLeft > 0) {
        const n = reader.copyAvailable(
          this.#dest,
          this.#filled,
          this.#payloadLeft,
        );
        if (n > 0) this.#took(n);
        if (this.#payloadLeft > 0) return null;
      }
      this.#inFrame = false;
      if (h.fin) {
        if (this.#validateUtf8 && !this.#utf8.complete) throw invalidUtf8();
        return this.#deliver(this.#viewOf(this.#dest, this.#filled));
      }
    }
  }

  /**
   * Prepares the destination for a data frame's payload.
   *
   * @returns The message, when a whole unfragmented frame could be returned in
   * place from the read buffer; otherwise `null`.
   */
  #startFrame(h: Header): Message | null {
    if (h.opcode !== OpCode.Continuation) {
      this.#filled = 0;
      this.#releaseLarge(h.length);
      this.#validateUtf8 = h.opcode === OpCode.Text && (h.rsv & Rsv.Rsv1) === 0;
      this.#utf8.reset();
      if (this.#target === undefined && h.fin) {
        const inPlace = this.#readInPlace(h);
        if (inPlace !== null) {
          this.#inFrame = false;
          return this.#deliver(inPlace);
        }
      }
      this.#dest = this.#target ?? EMPTY;
    }
    const total = this.#filled + h.length;
    if (this.#target === undefined) {
      this.#dest = this.#grow(this.#filled, total);
    } else if (total > this.#dest.length) {
      throw new WebSocketError(
        "buffer_too_small",
        `Cannot read a ${total}-byte message into a ${this.#dest.length}-byte buffer`,
      );
    }
    return null;
  }

  /** Accounts for `n` payload bytes just placed at `dest[filled..]`. */
  #took(n: number): void {
    const at = this.#filled;
    const h = this.#reader.header;
    if (h.masked) {
      this.#phase = maskInPlace(this.#dest, h.mask, this.#phase, at, at + n);
    }
    if (this.#validateUtf8 && !this.#utf8.push(this.#dest, at, at + n)) {
      throw invalidUtf8();
    }
    this.#filled = at + n;
    this.#payloadLeft -= n;
  }

  async #nextHeader(): Promise<Header> {
    if (this.#payloadLeft > 0) {
      await this.#reader.skip(this.#payloadLeft);
      this.#payloadLeft = 0;
    }
    let size = this.#reader.tryHeader();
    if (size === 0) size = await this.#reader.readHeader();
    return this.#accept(size);
  }

  #accept(size: number): Header {
    if (size < 0) {
      throw new WebSocketError(
        "invalid_length",
        "Frame length has the most significant bit set",
      );
    }
    const h = this.#reader.header;
    this.#check(h);
    this.#payloadLeft = h.length;
    return h;
  }

  /** Applies RFC 6455 §5 to a header and tracks fragmentation. */
  #check(h: Header): void {
    if (h.masked !== (this.role === "server")) {
      throw this.role === "server"
        ? new WebSocketError("unmasked_frame", "Client frame is not masked")
        : new WebSocketError("masked_frame", "Server frame is masked");
    }
    if (!isKnownOpCode(h.opcode)) {
      throw new WebSocketError("invalid_opcode", `Reserved opcode ${h.opcode}`);
    }
    if (isControl(h.opcode)) {
      if (h.rsv !== 0) {
        throw new WebSocketError(
          "reserved_bits",
          "Control frame has RSV bits set",
        );
      }
      if (!h.fin) {
        throw new WebSocketError(
          "control_fragmented",
          "Control frame is fragmented",
        );
      }
      if (h.length > MAX_CONTROL_PAYLOAD) {
        throw new WebSocketError(
          "control_too_large",
          `Control frame payload is ${h.length} bytes (at most 125)`,
        );
      }
      return;
    }
    if (h.opcode === OpCode.Continuation) {
      if (!this.#inMessage) {
        throw new WebSocketError(
          "unexpected_continuation",
          "Continuation frame without a message to continue",
        );
      }
      if (h.rsv !== 0) {
        throw new WebSocketError(
          "reserved_bits",
          "Continuation frame has RSV bits set",
        );
      }
      if (++this.#fragments > this.#maxFragments) {
        throw new WebSocketError(
          "too_many_fragments",
          `Message has more than ${this.#maxFragments} fragments`,
        );
      }
    } else {
      if (this.#inMessage) {
        throw new WebSocketError(
          "expected_continuation",
          "New message started inside a fragmented message",
        );
      }
      if ((h.rsv & ~this.#rsvAllowed) !== 0) {
        throw new WebSocketError(
          "reserved_bits",
          "Frame has unnegotiated RSV bits set",
        );
      }
      this.#messageOpcode = h.opcode;
      this.#messageLength = 0;
      this.#fragments = 1;
      this.#message.rsv = h.rsv;
    }
    this.#messageLength += h.length;
    if (this.#messageLength > this.readLimit) {
      throw new WebSocketError(
        "message_too_big",
        `Message exceeds the ${this.readLimit}-byte read limit`,
      );
    }
    if (h.length > this.#maxFrameSize) {
      throw new WebSocketError(
        "frame_too_big",
        `Frame exceeds the ${this.#maxFrameSize}-byte frame limit`,
      );
    }
    this.#inMessage = !h.fin;
  }

  /** Reads the current frame's payload into `dest[offset..]`, unmasking as it goes. */
  async #readPayloadInto(
    dest: Uint8Array,
    offset: number,
    h: Header,
    utf8: boolean,
  ): Promise<void> {
    let phase = 0;
    let at = offset;
    while (this.#payloadLeft > 0) {
      const n = await this.#reader.readPart(dest, at, this.#payloadLeft);
      if (h.masked) phase = maskInPlace(dest, h.mask, phase, at, at + n);
      if (utf8 && !this.#utf8.push(dest, at, at + n)) throw invalidUtf8();
      at += n;
      this.#payloadLeft -= n;
    }
    if (utf8 && h.fin && !this.#utf8.complete) throw invalidUtf8();
  }

  /** The zero-copy path: a whole frame already in the read buffer, unmasked there. */
  #readInPlace(h: Header): Uint8Array | null {
    const view = this.#reader.takeBuffered(h.length);
    if (view === null) return null;
    this.#payloadLeft = 0;
    if (h.masked) maskInPlace(view, h.mask, 0);
    if (this.#validateUtf8 && !isValidUtf8(view)) throw invalidUtf8();
    return view;
  }

  #deliver(data: Uint8Array): Message {
    const msg = this.#message;
    msg.opcode = this.#messageOpcode as DataOpCode;
    msg.data = data;
    return msg;
  }

  /**
   * Lets go of an internal buffer that one large message grew, once a message
   * much smaller starts, so that an idle connection does not keep its largest
   * message's worth of memory. A run of large messages keeps reusing it.
   */
  #releaseLarge(next: number): void {
    const buf = this.#internal;
    if (
      buf !== null && buf.length > RETAINED_BUFFER_BYTES &&
      next < buf.length / 4
    ) {
      this.#internal = this.#viewBase = null;
      this.#dest = this.#view = EMPTY;
    }
  }

  /** The internal message buffer, grown (keeping `filled` bytes) to hold `total`. */
  #grow(filled: number, total: number): Uint8Array {
    let buf = this.#internal;
    if (buf === null || buf.length < total) {
      const size = Math.min(
        this.readLimit,
        Math.max(total, this.chunkSize, 2 * (buf?.length ?? 0)),
      );
      const next = new Uint8Array(size);
      if (buf !== null && filled > 0) next.set(buf.subarray(0, filled));
      this.#internal = buf = next;
    }
    return buf;
  }

  /** A view of `buf[0..length)`, reused while the buffer and length repeat. */
  #viewOf(buf: Uint8Array, length: number): Uint8Array {
    if (length === buf.length) return buf;
    if (this.#viewBase !== buf || this.#view.length !== length) {
      this.#viewBase = buf;
      this.#view = buf.subarray(0, length);
    }
    return this.#view;
  }

  /** Acts on a complete control frame; returns a promise when that takes time. */
  #onControl(h: Header): Promise<void> | undefined {
    const payload = this.#control.subarray(0, h.length);
    if (h.opcode === OpCode.Ping) {
      if (this.#closeSent) return;
      if (this.onPing !== undefined) {
        const done = this.onPing(payload);
        return done instanceof Promise ? done : undefined;
      }
      this.#writer.write(FIN | OpCode.Pong, payload).catch(ignore);
    } else if (h.opcode === OpCode.Pong) {
      this.#pongs++;
      this.onPong?.(payload);
    } else {
      return this.#receiveClose(payload);
    }
  }

  async #receiveClose(payload: Uint8Array): Promise<never> {
    let code: CloseCode = CloseCode.NoStatusReceived;
    let reason = "";
    if (payload.length === 1) {
      throw new WebSocketError(
        "invalid_close_payload",
        "Close frame payload is 1 byte",
      );
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) {
        throw new WebSocketError(
          "invalid_close_code",
          `Invalid close code ${code}`,
        );
      }
      if (!isValidUtf8(payload, 2)) {
        throw new WebSocketError(
          "invalid_utf8",
          "Close reason is not valid UTF-8",
        );
      }
      reason = decoder.decode(payload.subarray(2));
    }
    this.onClose?.(code, reason);
    if (!this.#closeSent) {
      this.#closeSent = true;
      const echo = code === CloseCode.NoStatusReceived
        ? EMPTY
        : payload.subarray(0, 2);
      await this.#writer.write(FIN | OpCode.Close, echo).catch(ignore);
    }
    await this.#finish(code, reason);
    throw new CloseError(code, reason);
  }

  /** Completes a closing handshake: the server drops TCP first, the client waits for it. */
  async #finish(code: CloseCode, reason: string): Promise<void> {
    await withTimeout(this.#writer.flush().catch(ignore), this.#closeTimeout);
    if (this.role === "client" && !this.#finished) {
      await withTimeout(this.#reader.drain().catch(ignore), this.#closeTimeout);
    }
    this.#shutdown(code, reason);
  }

  /** Turns a read failure into the sticky error, failing the connection first. */
  async #readFailed(err: unknown): Promise<Error> {
    if (this.#readError !== null) return this.#readError;
    if (err instanceof CloseError) {
      this.#readError = err;
    } else if (
      err instanceof WebSocketError &&
      err.closeCode !== CloseCode.AbnormalClosure
    ) {
      await this.#fail(err, true);
    } else {
      this.#readError = err instanceof WebSocketError
        ? err
        : new WebSocketError(
          "closed",
          this.#finished ? "Connection is closed" : "Connection failed",
          { cause: err },
        );
      this.#shutdown(CloseCode.AbnormalClosure, "");
    }
    return this.#readError!;
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
   * await conn.fail(new WebSocketError("invalid_compressed_data", "Bad data"));
   * assertEquals((await conn.closed).code, CloseCode.InvalidFramePayloadData);
   * assertEquals((await sent).value?.[0], 0x88); // the close frame went out
   * ```
   *
   * @param error The error: its `closeCode` is sent.
   */
  fail(error: WebSocketError): Promise<void> {
    return this.#fail(error, !this.#reading);
  }

  async #fail(error: WebSocketError, linger: boolean): Promise<void> {
    this.#readError ??= error;
    if (!this.#closeSent && !this.#finished) {
      this.#closeSent = true;
      const frame = closePayload(
        error.closeCode,
        truncateReason(error.message),
      );
      this.#writer.write(FIN | OpCode.Close, frame).catch(ignore);
      await withTimeout(this.#writer.flush().catch(ignore), this.#closeTimeout);
      if (linger) {
        await withTimeout(
          this.#linger(),
          Math.min(this.#closeTimeout, MAX_LINGER),
        );
      }
    }
    this.#shutdown(error.closeCode, error.message);
  }

  /**
   * Closing a socket with unread input sends a reset, which can destroy our close
   * frame before the peer reads it: half-close instead, and discard input until
   * the peer hangs up (for at most a second).
   */
  async #linger(): Promise<void> {
    const conn = this.#transport as Partial<Deno.Conn>;
    if (typeof conn.closeWrite !== "function") return;
    try {
      await conn.closeWrite();
      await this.#reader.drain();
    } catch {
      // Gone already, or a read is pending: nothing to linger for.
    }
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
    if (isControl(opcode) && (!fin || payload.length > MAX_CONTROL_PAYLOAD)) {
      return Promise.reject(
        new RangeError("Control frames must be final and at most 125 bytes"),
      );
    }
    if ((rsv & ~0x70) !== 0 || opcode < 0 || opcode > 0xf) {
      return Promise.reject(new RangeError("Invalid RSV bits or opcode"));
    }
    const closing = this.#refuseWrite();
    if (closing !== null) return closing;
    if (opcode === OpCode.Close) this.#closeSent = true;
    return this.#writer.write((fin ? FIN : 0) | rsv | opcode, payload);
  }

  /**
   * Writes one message as a single frame.
   *
   * Returns without waiting when the frame fits the scratchpad (below the high-water
   * mark): `data` may be reused as soon as the call returns. Use `flush()` to wait
   * for the transport.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; a string is encoded as UTF-8 straight into the scratchpad.
   */
  writeMessage(opcode: DataOpCode, data: Uint8Array | string): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      return Promise.reject(new TypeError(`Not a data opcode: ${opcode}`));
    }
    const closing = this.#refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) {
      return this.#streaming.then(() => this.writeMessage(opcode, data));
    }
    return typeof data === "string"
      ? this.#writer.writeText(FIN | opcode, data)
      : this.#writer.write(FIN | opcode, data);
  }

  /**
   * Writes a message framed once by {@linkcode PreparedMessage}: a server connection
   * writes its bytes as they are, so a broadcast costs one frame encoding in all.
   *
   * @param message The prepared message.
   */
  writePrepared(message: PreparedMessage): Promise<void> {
    if (this.role === "client") {
      return this.writeMessage(message.opcode, message.data);
    }
    const closing = this.#refuseWrite();
    if (closing !== null) return closing;
    if (this.#streaming !== null) {
      return this.#streaming.then(() => this.writePrepared(message));
    }
    return this.#writer.writeRaw(message.frame);
  }

  /**
   * Streams one message from a byte stream, in fragments of `chunkSize` bytes, with
   * one fragment of lookahead so that the last data frame carries FIN and no empty
   * trailing fragment is sent. Other data messages wait until it ends; pings and
   * pongs may go between its fragments.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param source The bytes: a `ReadableStream` or any async iterable.
   * @param chunkSize The fragment size, at most the connection's chunk size.
   * @throws {RangeError} When `chunkSize` exceeds the connection's chunk size.
   */
  async streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize: number = this.chunkSize,
  ): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      throw new TypeError(`Not a data opcode: ${opcode}`);
    }
    if (!(chunkSize >= 1 && chunkSize <= this.chunkSize)) {
      throw new RangeError(
        `Chunk size ${chunkSize} exceeds the connection's ${this.chunkSize} bytes`,
      );
    }
    while (this.#streaming !== null) await this.#streaming;
    let release!: () => void;
    this.#streaming = new Promise((resolve) => release = resolve);
    try {
      const held = this.#lookahead ??= new Uint8Array(this.chunkSize);
      let size = 0;
      let op: number = opcode;
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        for (let at = 0; at < chunk.length;) {
          if (size === chunkSize) {
            await this.#writeFragment(op, held.subarray(0, size));
            op = OpCode.Continuation;
            size = 0;
          }
          const n = Math.min(chunkSize - size, chunk.length - at);
          held.set(chunk.subarray(at, at + n), size);
          size += n;
          at += n;
        }
      }
      await this.#writeFragment(FIN | op, held.subarray(0, size));
    } finally {
      this.#streaming = null;
      release();
    }
  }

  #writeFragment(first: number, payload: Uint8Array): Promise<void> {
    return this.#refuseWrite() ?? this.#writer.write(first, payload);
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
  async keepAlive(intervalMs: number, signal?: AbortSignal): Promise<void> {
    let seen = this.#pongs;
    let waiting = false;
    while (!signal?.aborted && !this.#finished) {
      await sleep(intervalMs, signal, this.closed);
      if (signal?.aborted || this.#finished) return;
      if (waiting && this.#pongs === seen) {
        this.abort();
        throw new WebSocketError(
          "pong_timeout",
          `No pong within ${intervalMs} ms of a ping`,
        );
      }
      seen = this.#pongs;
      waiting = true;
      await this.ping();
    }
  }

  #refuseWrite(): Promise<never> | null {
    if (!this.#closeSent && !this.#finished) return null;
    return Promise.reject(
      new WebSocketError(
        "closed",
        "Cannot write: the connection is closing or closed",
      ),
    );
  }

  // ---------------------------------------------------------------- closing

  /**
   * Runs the closing handshake: sends a close frame, waits for the peer's (reading
   * and discarding messages if no read is in progress), then closes the transport.
   * After the close timeout the transport is closed anyway. Calling it again, or
   * after the peer closed, just waits for the end.
   *
   * @param code The close code (default 1000).
   * @param reason Up to 123 bytes of UTF-8.
   * @throws {RangeError} For a code that may not be sent or a reason too long.
   */
  async close(
    code: CloseCode = CloseCode.NormalClosure,
    reason = "",
  ): Promise<void> {
    if (!isValidCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}`);
    }
    const payload = closePayload(code, reason);
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(
        `Close reason exceeds ${MAX_CLOSE_REASON_BYTES} bytes`,
      );
    }
    if (this.#finished) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      try {
        await this.#writer.write(FIN | OpCode.Close, payload);
        await withTimeout(this.#writer.flush(), this.#closeTimeout);
      } catch {
        this.#shutdown(CloseCode.AbnormalClosure, "");
        return;
      }
    }
    if (!this.#reading && this.#readError === null) this.#drainUntilClosed();
    const closedInTime = await withTimeout(this.closed, this.#closeTimeout);
    if (!closedInTime) this.#shutdown(CloseCode.AbnormalClosure, "");
  }

  /** Closes the transport at once, without a closing handshake. */
  abort(): void {
    this.#shutdown(CloseCode.AbnormalClosure, "");
  }

  async #drainUntilClosed(): Promise<void> {
    try {
      for (;;) await this.readMessage();
    } catch {
      // The close frame, a failure or the timeout ends the drain.
    }
  }

  #shutdown(code: CloseCode, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#idleTimer);
    this.#writer.abandonHold();
    this.#source.cancel();
    this.#sink.abort();
    closeTransport(this.#transport);
    this.#resolveClosed({ code, reason });
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function invalidUtf8(): WebSocketError {
  return new WebSocketError("invalid_utf8", "Text message is not valid UTF-8");
}

function closePayload(code: CloseCode, reason: string): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** Cuts a reason to at most 123 UTF-8 bytes without splitting a character. */
function truncateReason(reason: string): string {
  let bytes = encoder.encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  bytes = bytes.subarray(0, end);
  return decoder.decode(bytes);
}

function ignore(): void {}

/** Waits for `promise` at most `ms`; tells whether it settled in time. */
async function withTimeout(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps `ms`, waking early when `signal` aborts or `closed` settles. */
function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  closed: Promise<unknown>,
): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    closed.then(done);
  });
}
