/**
 * The permessage-deflate decorator (RFC 7692): a {@linkcode WebSocketConn} that
 * compresses and inflates messages over a plain {@linkcode Conn}.
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
 * @module
 */

import { CloseCode } from "../codec/close_code.ts";
import type { Conn } from "../conn/conn.ts";
import { WebSocketError } from "../codec/errors.ts";
import { type Header, Rsv } from "../codec/header.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import type { PreparedMessage } from "../conn/prepared_message.ts";
import { isValidUtf8 } from "../codec/utf8.ts";
import { iterateMessages } from "../conn/iterate_messages.ts";
import type {
  CloseHandler,
  Frame,
  FrameConn,
  Message,
  PingHandler,
  PongHandler,
} from "../conn/websocket_conn.ts";
import { compressionStreamEngine } from "./compression_stream.ts";
import {
  type Compressor,
  type Decompressor,
  type DeflateEngine,
  endsWithSyncTrailer,
} from "./compressor.ts";
import { InflateOutput } from "./inflate_output.ts";
import {
  checkDeflateOptions,
  type DeflateOptions,
  type DeflateParams,
  deflateParamsOf,
} from "./negotiate.ts";

/**
 * The default compression level (zlib's own default).
 *
 * @example
 * ```ts
 * import { DEFAULT_DEFLATE_LEVEL, DEFAULT_DEFLATE_THRESHOLD } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([DEFAULT_DEFLATE_LEVEL, DEFAULT_DEFLATE_THRESHOLD], [6, 128]);
 * ```
 */
export const DEFAULT_DEFLATE_LEVEL = 6;
/**
 * The default threshold: shorter messages are sent uncompressed.
 *
 * @example
 * ```ts
 * import { DEFAULT_DEFLATE_THRESHOLD } from "@wsx/websocket/deflate";
 * import { assert } from "@std/assert";
 *
 * assert(DEFAULT_DEFLATE_THRESHOLD > 0);
 * ```
 */
export const DEFAULT_DEFLATE_THRESHOLD = 128;

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const RESOLVED: Promise<void> = Promise.resolve();
/** The payload of an empty compressed message (RFC 7692 §7.2.3.6). */
const EMPTY_BLOCK = new Uint8Array([0x00]);
const encoder = new TextEncoder();

/**
 * A connection with permessage-deflate: messages at or above the threshold are
 * compressed (RSV1 set), compressed messages from the peer are inflated, and
 * everything else is delegated to the wrapped {@linkcode Conn}, which must have
 * been built with `rsvAllowed: Rsv.Rsv1`.
 *
 * @example Compressed echo between a client and a server over loopback
 * ```ts
 * import { Conn, OpCode, Rsv } from "@wsx/websocket";
 * import { PerMessageDeflateConn } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * const [tcp, peer] = await Promise.all([
 *   Deno.connect({ hostname: "127.0.0.1", port }),
 *   listener.accept(),
 * ]);
 * listener.close();
 * const extensions = "permessage-deflate";
 * const client = new PerMessageDeflateConn(
 *   new Conn(tcp, { role: "client", rsvAllowed: Rsv.Rsv1, extensions }),
 * );
 * const server = new PerMessageDeflateConn(
 *   new Conn(peer, { role: "server", rsvAllowed: Rsv.Rsv1, extensions }),
 * );
 * await client.writeMessage(OpCode.Text, "hello ".repeat(100));
 * const msg = await server.readMessage();
 * assertEquals(msg.rsv, Rsv.Rsv1);
 * assertEquals(new TextDecoder().decode(msg.data), "hello ".repeat(100));
 * await Promise.all([client.close(), server.readMessage().catch(() => {})]);
 * ```
 */
export class PerMessageDeflateConn implements FrameConn {
  /** Which side of the connection this is. */
  readonly role: "client" | "server";
  /** The subprotocol the handshake settled on, or `""`. */
  readonly protocol: string;
  /** The extensions the handshake settled on. */
  readonly extensions: string;
  /** Resolves once the connection is closed, with the close code and reason. */
  readonly closed: Promise<{ code: CloseCode; reason: string }>;
  /** The agreed parameters. */
  readonly params: DeflateParams;

  #base: Conn;
  #engine: DeflateEngine;
  #level: number;
  #threshold: number;
  #ownWindowBits: number;
  #peerWindowBits: number;
  #resetAfterWrite: boolean;
  #resetAfterRead: boolean;
  #compressor: Compressor | null = null;
  #decompressor: Decompressor | null = null;
  #output = new InflateOutput();
  #message: Message = {
    opcode: OpCode.Binary,
    data: new Uint8Array(0),
    rsv: 0,
  };
  #reading = false;
  #readError: Error | null = null;
  #queued = 0;
  #tail: Promise<void> = RESOLVED;
  #held: Uint8Array | null = null;

  /**
   * Wraps a connection whose handshake agreed on permessage-deflate.
   *
   * @param base The connection, built with `rsvAllowed: Rsv.Rsv1`.
   * @param params The agreed parameters; by default, read from `base.extensions`
   * (all defaults when it does not name permessage-deflate).
   * @param options The level, threshold, engine and this side's preferences.
   * @throws {RangeError} For options out of range, or a window below 15 bits for
   * this side with an engine that cannot limit it.
   */
  constructor(
    base: Conn,
    params: DeflateParams | null = deflateParamsOf(base.extensions),
    options: DeflateOptions = {},
  ) {
    checkDeflateOptions(options, base.role);
    this.#base = base;
    this.role = base.role;
    this.protocol = base.protocol;
    this.extensions = base.extensions;
    this.closed = base.closed;
    const p = this.params = params ?? DEFAULT_PARAMS;
    const server = base.role === "server";
    this.#engine = options.engine ?? compressionStreamEngine();
    this.#level = options.level ?? DEFAULT_DEFLATE_LEVEL;
    this.#threshold = options.threshold ?? DEFAULT_DEFLATE_THRESHOLD;
    this.#ownWindowBits = Math.min(
      server ? p.serverMaxWindowBits : p.clientMaxWindowBits,
      (server ? options.serverMaxWindowBits : options.clientMaxWindowBits) ??
        15,
    );
    this.#peerWindowBits = server
      ? p.clientMaxWindowBits
      : p.serverMaxWindowBits;
    if (this.#ownWindowBits < 15 && !this.#engine.limitsWindow) {
      throw new RangeError(
        `The ${this.#engine.name} engine cannot limit its window to ${this.#ownWindowBits} bits`,
      );
    }
    this.#resetAfterWrite = server
      ? p.serverNoContextTakeover || options.serverNoContextTakeover === true
      : p.clientNoContextTakeover || options.clientNoContextTakeover === true;
    // The peer's messages never look back: its inflater can be released between
    // messages to save memory.
    this.#resetAfterRead = server
      ? p.clientNoContextTakeover
      : p.serverNoContextTakeover;
    base.closed.then(() => this.#release());
  }

  /** The wrapped connection. */
  get base(): Conn {
    return this.#base;
  }

  /** The largest message accepted, after inflation, in bytes. */
  get readLimit(): number {
    return this.#base.readLimit;
  }

  /** The base connection's chunk size, in bytes. */
  get chunkSize(): number {
    return this.#base.chunkSize;
  }

  /** Called for each ping (the base connection's handler). */
  get onPing(): PingHandler | undefined {
    return this.#base.onPing;
  }
  set onPing(handler: PingHandler | undefined) {
    this.#base.onPing = handler;
  }

  /** Called for each pong (the base connection's handler). */
  get onPong(): PongHandler | undefined {
    return this.#base.onPong;
  }
  set onPong(handler: PongHandler | undefined) {
    this.#base.onPong = handler;
  }

  /** Called when the peer's close frame arrives (the base connection's handler). */
  get onClose(): CloseHandler | undefined {
    return this.#base.onClose;
  }
  set onClose(handler: CloseHandler | undefined) {
    this.#base.onClose = handler;
  }

  /** Bytes written but not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.#base.bufferedAmount;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads one whole message, inflating it when it arrived compressed.
   *
   * @param buf Where the payload goes; without it, an internal buffer (or the base
   * connection's) that grows up to the read limit.
   * @returns The message, valid until the next read; `rsv` tells whether it came
   * compressed (`Rsv.Rsv1`).
   * @throws {CloseError} Once the peer has closed the connection.
   * @throws {WebSocketError} On a protocol error (the connection is then closed with
   * its code): `invalid_compressed_data` and `invalid_utf8` (1007),
   * `message_too_big` and `buffer_too_small` (1009), and the base's.
   */
  async readMessage(buf?: Uint8Array): Promise<Message> {
    if (this.#readError !== null) throw this.#readError;
    if (this.#reading) {
      throw new TypeError("Cannot read: another read is in progress");
    }
    this.#reading = true;
    try {
      // The base answers its own errors and keeps them: they propagate as they are.
      const raw = await this.#base.readMessage();
      const msg = this.#message;
      msg.opcode = raw.opcode;
      msg.rsv = raw.rsv;
      try {
        if ((raw.rsv & Rsv.Rsv1) === 0) {
          msg.data = buf === undefined ? raw.data : this.#copy(raw.data, buf);
          return msg;
        }
        const inflated = this.#inflate(raw.data, buf);
        msg.data = inflated instanceof Promise ? await inflated : inflated;
        if (raw.opcode === OpCode.Text && !isValidUtf8(msg.data)) {
          throw new WebSocketError(
            "invalid_utf8",
            "Text message is not valid UTF-8",
          );
        }
        return msg;
      } catch (err) {
        throw await this.#fail(err);
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Inflates a message; synchronously when the engine is synchronous. */
  #inflate(
    data: Uint8Array,
    buf?: Uint8Array,
  ): Uint8Array | Promise<Uint8Array> {
    const out = this.#output;
    out.start(this.#base.readLimit, buf);
    const inflater = this.#decompressor ??= this.#engine.decompressor({
      windowBits: this.#peerWindowBits,
    });
    const done = inflater.decompress(data, true, out);
    if (done instanceof Promise) {
      return done.then(() => this.#inflated(inflater, out));
    }
    return this.#inflated(inflater, out);
  }

  #inflated(inflater: Decompressor, out: InflateOutput): Uint8Array {
    // Without context takeover the window goes (a pooled engine hands its
    // handle back before any other connection runs).
    if (this.#resetAfterRead) inflater.reset();
    return out.data;
  }

  #copy(data: Uint8Array, buf: Uint8Array): Uint8Array {
    if (data.length > buf.length) {
      throw new WebSocketError(
        "buffer_too_small",
        `Cannot read a ${data.length}-byte message into a ${buf.length}-byte buffer`,
      );
    }
    buf.set(data);
    return buf.subarray(0, data.length);
  }

  /** Fails the connection for an error of ours: closes with its code, keeps it. */
  async #fail(err: unknown): Promise<Error> {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#readError = error;
    await this.#base.fail(
      error instanceof WebSocketError ? error : new WebSocketError(
        "internal_error",
        truncate(error.message),
        { cause: error },
      ),
    );
    return error;
  }

  /**
   * Iterates over messages until the peer closes the connection.
   *
   * @example
   * ```ts ignore
   * for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return iterateMessages(this);
  }

  /** Reads the next frame header, as the base connection does (no inflation). */
  readHeader(): Promise<Header> {
    return this.#base.readHeader();
  }

  /** Reads the payload of the frame just read, as the base connection does. */
  readPayload(buf: Uint8Array): Promise<Uint8Array> {
    return this.#base.readPayload(buf);
  }

  /** Reads one raw frame (still compressed), as the base connection does. */
  readFrame(buf: Uint8Array): Promise<Frame> {
    return this.#base.readFrame(buf);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes one message as a single frame: compressed (RSV1 set) when it has at least
   * `threshold` bytes, as is otherwise.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; a string is sent as UTF-8. Keep `data` unchanged until
   * the promise settles (an engine may compress it asynchronously).
   */
  writeMessage(opcode: DataOpCode, data: Uint8Array | string): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      return Promise.reject(new TypeError(`Not a data opcode: ${opcode}`));
    }
    // Below the threshold for sure: a string has at least as many bytes as units
    // and at most three times as many.
    const small = typeof data === "string"
      ? data.length * 3 < this.#threshold
      : data.length < this.#threshold;
    if (this.#queued > 0) {
      return this.#enqueue(() => this.#write(opcode, data));
    }
    if (small) return this.#base.writeMessage(opcode, data);
    // Nothing queued: the message goes to the base connection now, and later
    // ones queue only while this one's compressed bytes are still in use.
    let written: Promise<void>;
    try {
      written = this.#write(opcode, data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#outputInUse ? this.#track(written) : written;
  }

  /**
   * Whether the last {@linkcode #write} left the engine's output in use after
   * returning: compression still running, or a frame the base keeps until written.
   */
  #outputInUse = false;

  /** Compresses one message (unless below the threshold) and hands it over. */
  #write(opcode: DataOpCode, data: Uint8Array | string): Promise<void> {
    this.#outputInUse = false;
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (bytes.length < this.#threshold) {
      return this.#base.writeMessage(opcode, bytes);
    }
    const compressor = this.#compressor ??= this.#newCompressor();
    const packed = compressor.compress(bytes);
    if (packed instanceof Promise) {
      this.#outputInUse = true;
      return packed.then((done) => this.#send(compressor, opcode, done));
    }
    // The base copies a frame that fits its scratchpad before returning; a larger
    // one it keeps until written, and the engine reuses its output buffer.
    this.#outputInUse = packed.length > this.#base.chunkSize;
    return this.#send(compressor, opcode, packed);
  }

  /** Hands a compressed message to the base connection as one RSV1 frame. */
  #send(
    compressor: Compressor,
    opcode: DataOpCode,
    packed: Uint8Array,
  ): Promise<void> {
    const written = this.#base.writeFrame(
      true,
      Rsv.Rsv1,
      opcode,
      payloadOf(packed),
    );
    if (this.#resetAfterWrite) compressor.reset();
    return written;
  }

  /**
   * Writes a message prepared for broadcast. With context takeover every
   * connection's compressed bytes differ, so it is compressed (or not) here like
   * any message, from its payload.
   *
   * @param message The prepared message.
   */
  writePrepared(message: PreparedMessage): Promise<void> {
    return this.writeMessage(message.opcode, message.data);
  }

  /**
   * Streams one message, compressing each fragment on the fly: every fragment is
   * sync-flushed so that it can go out at once, RSV1 is set on the first only, and
   * the last one carries FIN. The threshold does not apply.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param source The bytes: a `ReadableStream` or any async iterable.
   * @param chunkSize The uncompressed bytes per fragment (default: the base
   * connection's chunk size).
   */
  streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize: number = this.#base.chunkSize,
  ): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      return Promise.reject(new TypeError(`Not a data opcode: ${opcode}`));
    }
    if (!(Number.isInteger(chunkSize) && chunkSize >= 1)) {
      return Promise.reject(
        new RangeError(
          `Chunk size must be a positive integer, got ${chunkSize}`,
        ),
      );
    }
    return this.#enqueue(() => this.#stream(opcode, source, chunkSize));
  }

  async #stream(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize: number,
  ): Promise<void> {
    const compressor = this.#compressor ??= this.#newCompressor();
    if (this.#held === null || this.#held.length < chunkSize) {
      this.#held = new Uint8Array(chunkSize);
    }
    const held = this.#held;
    let size = 0;
    let first = true;
    const send = async (fin: boolean) => {
      let packed = compressor.compress(held.subarray(0, size));
      if (packed instanceof Promise) packed = await packed;
      await this.#base.writeFrame(
        fin,
        first ? Rsv.Rsv1 : 0,
        first ? opcode : OpCode.Continuation,
        fin ? payloadOf(packed) : packed,
      );
      first = false;
      size = 0;
    };
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      for (let at = 0; at < chunk.length;) {
        if (size === chunkSize) await send(false);
        const n = Math.min(chunkSize - size, chunk.length - at);
        held.set(chunk.subarray(at, at + n), size);
        size += n;
        at += n;
      }
    }
    await send(true);
    if (this.#resetAfterWrite) compressor.reset();
  }

  #newCompressor(): Compressor {
    return this.#engine.compressor({
      level: this.#level,
      windowBits: this.#ownWindowBits,
    });
  }

  /** Runs writes one at a time, in call order; an idle queue runs at once. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    return this.#track(this.#queued === 0 ? task() : this.#tail.then(task));
  }

  /** Makes later writes wait for `run`. */
  #track(run: Promise<void>): Promise<void> {
    this.#queued++;
    const done = run.finally(this.#dequeue);
    this.#tail = done.catch(ignore);
    return done;
  }

  #dequeue = (): void => {
    this.#queued--;
  };

  /** Writes one raw frame, as the base connection does (no compression). */
  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
  ): Promise<void> {
    return this.#base.writeFrame(fin, rsv, opcode, payload);
  }

  /** Sends a ping (never compressed). */
  ping(payload?: Uint8Array): Promise<void> {
    return this.#base.ping(payload);
  }

  /** Sends an unsolicited pong (never compressed). */
  pong(payload?: Uint8Array): Promise<void> {
    return this.#base.pong(payload);
  }

  /** Waits until every message written so far has been handed to the transport. */
  async flush(): Promise<void> {
    await this.#tail;
    await this.#base.flush();
  }

  /** Pings every `intervalMs`, as the base connection's `keepAlive` does. */
  keepAlive(intervalMs: number, signal?: AbortSignal): Promise<void> {
    return this.#base.keepAlive(intervalMs, signal);
  }

  // ---------------------------------------------------------------- closing

  /**
   * Runs the closing handshake after the messages already written.
   *
   * @param code The close code (default 1000).
   * @param reason Up to 123 bytes of UTF-8.
   */
  async close(
    code: CloseCode = CloseCode.NormalClosure,
    reason = "",
  ): Promise<void> {
    await this.#tail;
    await this.#base.close(code, reason);
  }

  /** Closes the transport at once, without a closing handshake. */
  abort(): void {
    this.#base.abort();
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

/** A close reason cut to fit a control frame. */
function truncate(reason: string): string {
  return reason.length <= 60 ? reason : reason.slice(0, 60);
}

function ignore(): void {}

/**
 * Wraps a connection with permessage-deflate on the default engine: parameters
 * from `conn.extensions` (all defaults when it does not name permessage-deflate).
 *
 * @param conn The connection, built with `rsvAllowed: Rsv.Rsv1`.
 * @param level The compression level, 0-9 (the default engine ignores it).
 * @returns The decorated connection.
 *
 * @example
 * ```ts ignore
 * import { accept, Rsv } from "@wsx/websocket";
 * import { wrapDeflate } from "@wsx/websocket/deflate";
 *
 * const conn = wrapDeflate(await accept(tcp));
 * ```
 */
export function wrapDeflate(
  conn: Conn,
  level: number = DEFAULT_DEFLATE_LEVEL,
): PerMessageDeflateConn {
  return new PerMessageDeflateConn(conn, undefined, { level });
}

/**
 * Wraps a connection with permessage-deflate on a given engine (such as
 * `zlibEngine()`, or a WASM or native one implementing {@linkcode DeflateEngine}).
 *
 * @param conn The connection, built with `rsvAllowed: Rsv.Rsv1`.
 * @param engine The engine that makes the compressor and decompressor.
 * @param level The compression level, 0-9.
 * @returns The decorated connection.
 *
 * @example
 * ```ts
 * import { Conn, Rsv } from "@wsx/websocket";
 * import { wrapDeflateWith, zlibEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const conn = wrapDeflateWith(
 *   new Conn({ readable, writable }, { role: "server", rsvAllowed: Rsv.Rsv1 }),
 *   zlibEngine(),
 *   1,
 * );
 * assertEquals(conn.params.serverMaxWindowBits, 15);
 * conn.abort();
 * ```
 */
export function wrapDeflateWith(
  conn: Conn,
  engine: DeflateEngine,
  level: number = DEFAULT_DEFLATE_LEVEL,
): PerMessageDeflateConn {
  return new PerMessageDeflateConn(conn, undefined, { engine, level });
}

/**
 * Wraps a connection when its handshake negotiated permessage-deflate (as
 * `conn.extensions` tells), and returns it unchanged otherwise: the step after
 * `accept` or `dial` with a `deflate` option.
 *
 * @param conn The connection, built with `rsvAllowed: Rsv.Rsv1` when negotiated.
 * @param options The options the handshake was negotiated with.
 * @returns The decorated connection, or `conn`.
 *
 * @example
 * ```ts
 * import { Conn } from "@wsx/websocket";
 * import { wrapNegotiated } from "@wsx/websocket/deflate";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const plain = new Conn({ readable, writable }, { role: "client" });
 * assertStrictEquals(wrapNegotiated(plain), plain);
 * plain.abort();
 * ```
 */
export function wrapNegotiated(
  conn: Conn,
  options: DeflateOptions = {},
): FrameConn {
  const params = deflateParamsOf(conn.extensions);
  return params === null
    ? conn
    : new PerMessageDeflateConn(conn, params, options);
}
