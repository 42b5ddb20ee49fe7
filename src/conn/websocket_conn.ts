/**
 * The connection interface every entry point returns, and what reads hand back.
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import type { Header } from "../codec/header.ts";
import type { DataOpCode } from "../codec/opcode.ts";
import type { StreamOptions } from "./chunks.ts";
import type { ReadOptions, WriteOptions } from "./deadlines.ts";
import type { PreparedMessage } from "./prepared_message.ts";
import type { MessageStream, MessageStreamOptions } from "./stream_reader.ts";

/**
 * A received message: its opcode and payload.
 *
 * Connections reuse one message object and, where they can, one payload view: both
 * are valid until the next read on the connection.
 *
 * @example
 * ```ts
 * import { type Message, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const m: Message = { opcode: OpCode.Text, data: new TextEncoder().encode("hi"), rsv: 0 };
 * assertEquals(m.data.length, 2);
 * ```
 */
export interface Message {
  /** `OpCode.Text` or `OpCode.Binary`. */
  opcode: DataOpCode;
  /** The payload: a view of the buffer passed to the read (or of an internal one). */
  data: Uint8Array;
  /** The RSV bits of the message's first frame (before any extension decoded it). */
  rsv: number;
}

/**
 * A received frame: its header and payload.
 *
 * @example
 * ```ts
 * import type { Frame } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const header = { fin: true, rsv: 0, opcode: 1, masked: false, length: 0, mask: new Uint8Array(4) };
 * const f: Frame = { header, payload: new Uint8Array(0) };
 * assertEquals(f.payload.length, 0);
 * ```
 */
export interface Frame {
  /** The frame's header (reused by the connection: valid until the next read). */
  header: Header;
  /** The unmasked payload: a view of the caller's buffer. */
  payload: Uint8Array;
}

/**
 * The one connection interface: what `accept`, `dial`, `serve`, the `node:http`
 * adapter and the permessage-deflate decorator return, so that a handler never
 * needs to know whether compression was negotiated. Messages, streaming, frames,
 * control frames, keep-alive and the closing handshake.
 *
 * @example An echo loop that works with or without compression
 * ```ts ignore
 * import type { WebSocketConn } from "@wsx/websocket";
 *
 * async function echo(conn: WebSocketConn) {
 *   const buf = new Uint8Array(1 << 20);
 *   conn.onPong = () => console.log("pong");
 *   conn.keepAlive(30_000).catch(() => conn.abort());
 *   for (;;) {
 *     const msg = await conn.readMessage(buf);
 *     await conn.writeMessage(msg.opcode, msg.data);
 *   }
 * }
 * ```
 */
export interface WebSocketConn extends AsyncIterable<Message> {
  /** Which side of the connection this is. */
  readonly role: "client" | "server";
  /** The subprotocol the handshake settled on, or `""`. */
  readonly protocol: string;
  /** The extensions the handshake settled on, as a header value, or `""`. */
  readonly extensions: string;
  /** The largest message accepted, in bytes. */
  readonly readLimit: number;
  /** The peer's address, when the transport has one (a socket does; a stream pair does not). */
  readonly remoteAddr: Deno.Addr | null;
  /** This end's address, when the transport has one. */
  readonly localAddr: Deno.Addr | null;
  /** Bytes written but not yet handed to the transport. */
  readonly bufferedAmount: number;
  /** Resolves once the connection is closed, with the code and reason it closed with. */
  readonly closed: Promise<{ code: CloseCode; reason: string }>;
  /**
   * Reads one whole message, answering control frames on the way.
   *
   * @param buf Where the payload goes; without it, an internal buffer that grows up
   * to the read limit (its contents are valid until the next read).
   * @param options A signal that aborts the read.
   */
  readMessage(buf?: Uint8Array, options?: ReadOptions): Promise<Message>;
  /**
   * Reads the next message in pieces (into small buffers, or as a
   * `ReadableStream`), for messages of any size; inflated in pieces when
   * compressed. `options.readLimit` raises the read limit for this message.
   */
  readMessageStream(options?: MessageStreamOptions): Promise<MessageStream>;
  /**
   * Writes one message as a single frame.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; a string is sent as UTF-8.
   * @param options A signal that aborts the write.
   */
  writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Writes a message framed once for many connections (see `PreparedMessage`);
   * connections that must transform it (masking, compression) re-frame it.
   */
  writePrepared(
    message: PreparedMessage,
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Writes one message in fragments of at most `chunkSize` bytes from a stream, with
   * one chunk of lookahead so that the last fragment carries FIN; `options.rsv`
   * sets RSV bits the connection allows on its first frame.
   */
  streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    chunkSize?: number,
    options?: StreamOptions,
  ): Promise<void>;
  /** Sends a ping (payload up to 125 bytes). */
  ping(payload?: Uint8Array): Promise<void>;
  /** Waits until every frame written so far has been handed to the transport. */
  flush(): Promise<void>;
  /**
   * Runs the closing handshake: sends a close frame, waits for the peer's (at most
   * the close timeout), then closes the transport.
   */
  close(code?: CloseCode, reason?: string): Promise<void>;
  /** Closes the transport at once, without a closing handshake. */
  abort(): void;

  /** The read buffer, scratchpad and default fragment size, in bytes. */
  readonly chunkSize: number;
  /**
   * Called with each ping's payload (valid during the call); the default
   * (`undefined`) answers with a pong, a handler of your own sends one itself.
   */
  onPing: ((payload: Uint8Array) => void | Promise<void>) | undefined;
  /** Called with each pong's payload (valid during the call). */
  onPong: ((payload: Uint8Array) => void) | undefined;
  /** Called when the peer's close frame arrives, before it is answered. */
  onClose: ((code: CloseCode, reason: string) => void) | undefined;
  /**
   * Reads and validates the next frame header; its payload must then be read with
   * `readPayload`, or the next read skips it. Control frames are returned, not
   * answered.
   */
  readHeader(options?: ReadOptions): Promise<Header>;
  /** Reads (the rest of) the payload of the frame whose header was just read. */
  readPayload(buf: Uint8Array, options?: ReadOptions): Promise<Uint8Array>;
  /**
   * Reads the next piece of a data frame's payload into `buf`: how many bytes, or
   * `null` once it has been read whole.
   */
  readPayloadPart(
    buf: Uint8Array,
    options?: ReadOptions,
  ): Promise<number | null>;
  /** Reads one whole frame into `buf` (no extension decoding). */
  readFrame(buf: Uint8Array, options?: ReadOptions): Promise<Frame>;
  /** Writes one frame with explicit FIN, RSV bits and opcode (no extension encoding). */
  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
    options?: WriteOptions,
  ): Promise<void>;
  /** Sends an unsolicited pong (payload up to 125 bytes). */
  pong(payload?: Uint8Array): Promise<void>;
  /**
   * Pings every `intervalMs` until the signal aborts or the connection closes,
   * aborting the connection when a pong has not arrived by the next ping.
   */
  keepAlive(intervalMs: number, signal?: AbortSignal): Promise<void>;
}
