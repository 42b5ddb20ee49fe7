/**
 * The base of connection decorators: every member of {@linkcode WebSocketConn}
 * forwarded to the connection underneath, so that a decorator overrides only
 * what it changes.
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import type { Header } from "../codec/header.ts";
import type { DataOpCode } from "../codec/opcode.ts";
import type { ByteStream, StreamOptions } from "./chunks.ts";
import type { ReadOptions, WriteOptions } from "./deadlines.ts";
import { iterateMessages } from "./iterate_messages.ts";
import type { PreparedMessage } from "./prepared_message.ts";
import type { MessageStream, MessageStreamOptions } from "./stream_reader.ts";
import type { Frame, Message, WebSocketConn } from "./websocket_conn.ts";

/** A connection that does what the one it wraps does, until a subclass says otherwise. */
export class ForwardingConn implements WebSocketConn {
  readonly #inner: WebSocketConn;

  constructor(inner: WebSocketConn) {
    this.#inner = inner;
  }

  // Getters rather than copies: one field per decorated connection, not seven.
  get role(): "client" | "server" {
    return this.#inner.role;
  }

  get protocol(): string {
    return this.#inner.protocol;
  }

  get extensions(): string {
    return this.#inner.extensions;
  }

  get closed(): Promise<{ code: CloseCode; reason: string }> {
    return this.#inner.closed;
  }

  get remoteAddr(): Deno.Addr | null {
    return this.#inner.remoteAddr;
  }

  get localAddr(): Deno.Addr | null {
    return this.#inner.localAddr;
  }

  get readLimit(): number {
    return this.#inner.readLimit;
  }

  get chunkSize(): number {
    return this.#inner.chunkSize;
  }

  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }

  get onPing(): WebSocketConn["onPing"] {
    return this.#inner.onPing;
  }
  set onPing(handler: WebSocketConn["onPing"]) {
    this.#inner.onPing = handler;
  }

  get onPong(): WebSocketConn["onPong"] {
    return this.#inner.onPong;
  }
  set onPong(handler: WebSocketConn["onPong"]) {
    this.#inner.onPong = handler;
  }

  get onClose(): WebSocketConn["onClose"] {
    return this.#inner.onClose;
  }
  set onClose(handler: WebSocketConn["onClose"]) {
    this.#inner.onClose = handler;
  }

  readMessage(buf?: Uint8Array, options?: ReadOptions): Promise<Message> {
    return this.#inner.readMessage(buf, options);
  }

  readMessageStream(options?: MessageStreamOptions): Promise<MessageStream> {
    return this.#inner.readMessageStream(options);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return iterateMessages(this);
  }

  readHeader(options?: ReadOptions): Promise<Header> {
    return this.#inner.readHeader(options);
  }

  readPayload(buf: Uint8Array, options?: ReadOptions): Promise<Uint8Array> {
    return this.#inner.readPayload(buf, options);
  }

  readPayloadPart(
    buf: Uint8Array,
    options?: ReadOptions,
  ): Promise<number | null> {
    return this.#inner.readPayloadPart(buf, options);
  }

  readFrame(buf: Uint8Array, options?: ReadOptions): Promise<Frame> {
    return this.#inner.readFrame(buf, options);
  }

  writeFrame(
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array,
    options?: WriteOptions,
  ): Promise<void> {
    return this.#inner.writeFrame(fin, rsv, opcode, payload, options);
  }

  writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
    options?: WriteOptions,
  ): Promise<void> {
    return this.#inner.writeMessage(opcode, data, options);
  }

  writePrepared(
    message: PreparedMessage,
    options?: WriteOptions,
  ): Promise<void> {
    return this.#inner.writePrepared(message, options);
  }

  streamMessage(
    opcode: DataOpCode,
    source: ByteStream,
    chunkSize?: number,
    options?: StreamOptions,
  ): Promise<void> {
    return this.#inner.streamMessage(opcode, source, chunkSize, options);
  }

  ping(payload?: Uint8Array): Promise<void> {
    return this.#inner.ping(payload);
  }

  pong(payload?: Uint8Array): Promise<void> {
    return this.#inner.pong(payload);
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }

  keepAlive(intervalMs: number, signal?: AbortSignal): Promise<void> {
    return this.#inner.keepAlive(intervalMs, signal);
  }

  close(code?: CloseCode, reason?: string): Promise<void> {
    return this.#inner.close(code, reason);
  }

  abort(): void {
    this.#inner.abort();
  }
}
