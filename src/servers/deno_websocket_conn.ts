/**
 * The connection {@linkcode upgradeWebSocket} hands out: the one connection
 * interface over a socket from `Deno.upgradeWebSocket`, within what Deno allows.
 *
 * Over 500 lines: one class implementing the whole connection interface over
 * Deno's WebSocket, including the members Deno cannot support, each documented
 * with why it rejects.
 *
 * @module
 */

import { CloseCode, isValidCloseCode } from "../codec/close_code.ts";
import { closeFrameFor, MAX_CLOSE_REASON_BYTES } from "../codec/close_frame.ts";
import { sleep, withTimeout } from "../_timers.ts";
import { CloseError, WebSocketError } from "../codec/errors.ts";
import { ReadLimit } from "../codec/limits.ts";
import { iterateMessages } from "../conn/iterate_messages.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import type { PreparedMessage } from "../conn/prepared_message.ts";
import type { Message, WebSocketConn } from "../conn/websocket_conn.ts";
import type { UpgradeWebSocketOptions } from "./deno_upgrade.ts";

const DEFAULT_HIGH_WATER = 1 << 20;
const DEFAULT_CLOSE_TIMEOUT = 5_000;
const DEFAULT_MAX_QUEUED_MESSAGES = 1_024;
const DEFAULT_MAX_QUEUED_BYTES = 16 << 20;
/** The longest a drain sleeps between looks at `bufferedAmount`, in ms. */
const DRAIN_MAX_WAIT_MS = 50;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

type Received = string | ArrayBuffer;

/**
 * A {@linkcode WebSocketConn} over a socket from `Deno.upgradeWebSocket`, so that
 * one handler runs on every entry point. What Deno's `WebSocket` does not allow
 * shows in the types: frame access, pongs and keep-alive return `Promise<never>`
 * (they reject with a `TypeError` saying why), `onPing` and `onPong` can only be
 * `undefined`, and `chunkSize` is 0.
 *
 * Its limits, all set by Deno's `WebSocket`:
 * - No compression: Deno does not negotiate permessage-deflate.
 * - No frame access: Deno delivers whole messages; `streamMessage` gathers its
 *   source in memory and sends one frame, and `writePrepared` re-encodes.
 * - No pings on demand: Deno's server-side `WebSocket` has no way to send one,
 *   so `ping()` and `keepAlive()` are typed `Promise<never>` and reject. The
 *   `idleTimeout` option of {@linkcode upgradeWebSocket} makes Deno ping a
 *   silent client itself. Deno answers the client's pings itself.
 * - No BYOB and no zero-copy: each message arrives in a new `ArrayBuffer` (or a
 *   string, encoded into the buffer on read); the read limit is checked when
 *   Deno has received the message whole (1009 at once, read or not).
 * - No receive backpressure: Deno reads on whatever the handler does, so unread
 *   messages queue, up to `maxQueuedMessages` and `maxQueuedBytes`; past either
 *   the connection closes with 1008 (reads reject with `read_queue_full`).
 * - No drain event: `flush()` and a write past the high-water mark look at
 *   `bufferedAmount` again after the time the observed send rate says it needs
 *   (at most 50 ms); a close ends the wait within that time.
 * - `abort()` cannot drop the TCP connection: it sends a 1001 close frame and
 *   stops waiting.
 *
 * @example Reading into a preallocated buffer
 * ```ts ignore
 * const { response, conn } = upgradeWebSocket(req);
 * const buf = new Uint8Array(64 * 1024);
 * (async () => {
 *   for (;;) {
 *     const msg = await conn.readMessage(buf); // rejects with CloseError at the end
 *     await conn.writeMessage(msg.opcode, msg.data);
 *   }
 * })();
 * return response;
 * ```
 */
export class DenoWebSocketConn implements WebSocketConn {
  /** Always `"server"`: Deno upgrades server-side requests. */
  readonly role: "client" | "server" = "server";
  /** The subprotocol the handshake settled on, or `""`. */
  readonly protocol: string;
  /** The largest message accepted, in bytes. */
  readonly readLimit: number;
  /** Resolves once the connection is closed, with the close code and reason. */
  readonly closed: Promise<{ code: CloseCode; reason: string }>;
  /** Called when the connection closes. */
  onClose: ((code: CloseCode, reason: string) => void) | undefined;
  /** No fragments here: Deno frames every message whole. */
  readonly chunkSize = 0;
  /** The client's address, as given in the options (`info.remoteAddr`), or `null`. */
  readonly remoteAddr: Deno.Addr | null;
  /** The server's address, as given in the options, or `null`. */
  readonly localAddr: Deno.Addr | null;

  #socket: WebSocket;
  #opened: Promise<void>;
  #queue: Received[] = [];
  #queuedBytes = 0;
  #maxQueued: number;
  #maxQueuedBytes: number;
  #waiter: {
    resolve(msg: Message): void;
    reject(err: unknown): void;
  } | null = null;
  #target: Uint8Array | undefined;
  #internal: Uint8Array | null = null;
  #message: Message = {
    opcode: OpCode.Binary,
    data: new Uint8Array(0),
    rsv: 0,
  };
  #failure: WebSocketError | null = null;
  #closeError: Error | null = null;
  #closing = false;
  #finished = false;
  #highWater: number;
  #closeTimeout: number;
  #resolveClosed!: (info: { code: CloseCode; reason: string }) => void;

  /**
   * Wraps a socket from `Deno.upgradeWebSocket`; {@linkcode upgradeWebSocket} does
   * this for you.
   *
   * @param socket The socket, before its `open` event.
   * @param options The limits and the close handler.
   * @param protocol The subprotocol given to `Deno.upgradeWebSocket` (Deno's
   * server-side `socket.protocol` stays empty).
   */
  constructor(
    socket: WebSocket,
    options: UpgradeWebSocketOptions = {},
    protocol = "",
  ) {
    this.protocol = protocol;
    this.readLimit = options.readLimit ?? ReadLimit.Standard;
    this.#highWater = options.writeHighWaterMark ?? DEFAULT_HIGH_WATER;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.onClose = options.onClose;
    this.remoteAddr = options.remoteAddr ?? null;
    this.localAddr = options.localAddr ?? null;
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#opened = new Promise((resolve) => {
      if (socket.readyState === WebSocket.OPEN) resolve();
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("close", () => resolve(), { once: true });
    });
    socket.addEventListener("message", this.#onMessage);
    socket.addEventListener("close", this.#onCloseEvent);
  }

  /** The extensions the handshake settled on: always `""` (none). */
  get extensions(): string {
    return this.#socket.extensions;
  }

  /** Bytes written but not yet sent by Deno. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /**
   * Reads the next message.
   *
   * @param buf Where the payload goes; without it, binary messages are returned
   * as Deno delivered them and text is encoded into an internal buffer that grows
   * up to the read limit (valid until the next read).
   * @returns The message, valid until the next read.
   * @throws {CloseError} Once the connection has closed cleanly.
   * @throws {WebSocketError} `message_too_big` or `buffer_too_small` (after
   * closing with 1009), or `closed` when the connection failed.
   */
  readMessage(buf?: Uint8Array): Promise<Message> {
    if (this.#waiter !== null) {
      return Promise.reject(
        new TypeError("Cannot read: another read is in progress"),
      );
    }
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#queue.length > 0) {
      const data = this.#queue.shift()!;
      this.#queuedBytes -= sizeOf(data);
      try {
        return Promise.resolve(this.#deliver(data, buf));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.#closeError !== null) return Promise.reject(this.#closeError);
    this.#target = buf;
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * Iterates over messages until the connection closes cleanly; each message is
   * valid until the next one is requested.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return iterateMessages(this);
  }

  /**
   * Sends one message. Resolves at once unless Deno holds more than the high-water
   * mark unsent, then once that has drained.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param data The payload; text given as bytes must be valid UTF-8.
   * @throws {TypeError} For another opcode, or text bytes that are not UTF-8.
   * @throws {WebSocketError} `closed` once the connection is closing.
   */
  async writeMessage(
    opcode: DataOpCode,
    data: Uint8Array | string,
  ): Promise<void> {
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
      throw new TypeError(`Not a data opcode: ${opcode}`);
    }
    if (this.#socket.readyState === WebSocket.CONNECTING) await this.#opened;
    this.#refuseWrite();
    if (opcode === OpCode.Text) {
      this.#socket.send(
        typeof data === "string" ? data : strictDecoder.decode(data),
      );
    } else {
      this.#socket.send(typeof data === "string" ? encoder.encode(data) : data);
    }
    if (this.#socket.bufferedAmount > this.#highWater) {
      await this.#drain(this.#highWater);
    }
  }

  /**
   * Sends a prepared message. Deno frames it again: the one-encoding broadcast
   * saving applies only to the raw-socket entry points.
   *
   * @param message The prepared message.
   */
  writePrepared(message: PreparedMessage): Promise<void> {
    return this.writeMessage(message.opcode, message.data);
  }

  /**
   * Sends a message read from a stream. Deno cannot send fragments, so the whole
   * source is gathered in memory and sent as one frame.
   *
   * @param opcode `OpCode.Text` or `OpCode.Binary`.
   * @param source The bytes.
   */
  async streamMessage(
    opcode: DataOpCode,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      chunks.push(chunk.slice());
      size += chunk.length;
    }
    const whole = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    await this.writeMessage(opcode, whole);
  }

  /**
   * Not available: Deno's server-side `WebSocket` has no method that sends a
   * ping. The `idleTimeout` option of {@linkcode upgradeWebSocket} makes Deno
   * ping a client that has been silent for half of it, and close with 1001 when
   * nothing answers.
   *
   * @throws {TypeError} Always.
   */
  ping(): Promise<never> {
    return Promise.reject(
      new TypeError(
        "Cannot send a ping through Deno.upgradeWebSocket: use its idleTimeout option",
      ),
    );
  }

  /** Deno answers pings itself and tells nothing of them: always `undefined`. */
  get onPing(): undefined {
    return undefined;
  }
  /** @throws {TypeError} For a handler: Deno does not report pings. */
  set onPing(handler: undefined) {
    refuseHandler("ping", handler);
  }

  /** Deno tells nothing of pongs: always `undefined`. */
  get onPong(): undefined {
    return undefined;
  }
  /** @throws {TypeError} For a handler: Deno does not report pongs. */
  set onPong(handler: undefined) {
    refuseHandler("pong", handler);
  }

  /** Not available: Deno delivers whole messages. @throws {TypeError} Always. */
  readHeader(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno delivers whole messages. @throws {TypeError} Always. */
  readPayload(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno delivers whole messages. @throws {TypeError} Always. */
  readPayloadPart(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno delivers whole messages. @throws {TypeError} Always. */
  readFrame(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno delivers whole messages. @throws {TypeError} Always. */
  readMessageStream(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno frames messages itself. @throws {TypeError} Always. */
  writeFrame(): Promise<never> {
    return noFrames();
  }

  /** Not available: Deno's `WebSocket` cannot send pongs. @throws {TypeError} Always. */
  pong(): Promise<never> {
    return Promise.reject(
      new TypeError("Cannot send a pong through Deno.upgradeWebSocket"),
    );
  }

  /**
   * Not available: Deno's `WebSocket` cannot send pings. Use the `idleTimeout`
   * option of {@linkcode upgradeWebSocket}, Deno's own keep-alive.
   *
   * @throws {TypeError} Always.
   */
  keepAlive(): Promise<never> {
    return this.ping();
  }

  /**
   * Waits until Deno has sent every message written so far (or the connection
   * closes). Deno signals no drain, so this looks at `bufferedAmount` again
   * after the time the observed send rate says it needs, at most 50 ms.
   */
  flush(): Promise<void> {
    return this.#drain(0);
  }

  /**
   * Runs the closing handshake: sends a close frame and waits for the client's
   * (at most the close timeout). Calling it again just waits for the end.
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
    if (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError(
        `Close reason exceeds ${MAX_CLOSE_REASON_BYTES} bytes`,
      );
    }
    if (this.#finished) return;
    await this.#opened;
    this.#sendClose(code, reason);
    await withTimeout(this.closed, this.#closeTimeout);
    if (!this.#finished) this.abort();
  }

  /**
   * Gives up on the connection: sends a 1001 close frame without waiting for the
   * answer (Deno cannot drop the TCP connection itself), fails pending reads and
   * resolves `closed` with 1006.
   */
  abort(): void {
    if (this.#finished) return;
    this.#sendClose(CloseCode.GoingAway, "");
    this.#finish(
      CloseCode.AbnormalClosure,
      "",
      new WebSocketError("closed", "Connection was aborted"),
    );
  }

  #sendClose(code: CloseCode, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closing or closed.
    }
  }

  #refuseWrite(): void {
    if (this.#closing || this.#finished) {
      throw new WebSocketError(
        "closed",
        "Cannot write: the connection is closing or closed",
      );
    }
  }

  /**
   * Waits until at most `level` bytes are unsent. The first look is on the next
   * turn of the event loop; each later one after the time the last one's send
   * rate gives for the rest (doubling, up to the cap, while nothing moves).
   */
  async #drain(level: number): Promise<void> {
    const socket = this.#socket;
    let wait = 0;
    let before = socket.bufferedAmount;
    let since = performance.now();
    while (
      socket.bufferedAmount > level && socket.readyState === WebSocket.OPEN
    ) {
      // Not woken by `closed`: each wait would leave a reaction on it until the
      // connection ends. A close is seen within one wait (at most 50 ms).
      await sleep(wait);
      const now = performance.now();
      const left = socket.bufferedAmount - level;
      const rate = (before - socket.bufferedAmount) / Math.max(now - since, 1);
      wait = rate > 0 ? left / rate : Math.max(wait * 2, 1);
      wait = Math.min(wait, DRAIN_MAX_WAIT_MS);
      before = socket.bufferedAmount;
      since = now;
    }
  }

  #onMessage = (event: MessageEvent): void => {
    if (this.#finished || this.#failure !== null) return;
    const data = event.data as Received;
    if (this.#tooBig(data)) {
      return this.#fail(
        new WebSocketError(
          "message_too_big",
          `Message exceeds the ${this.readLimit}-byte read limit`,
        ),
      );
    }
    const waiter = this.#waiter;
    if (waiter === null) {
      this.#enqueue(data);
      return;
    }
    this.#waiter = null;
    try {
      waiter.resolve(this.#deliver(data, this.#target));
    } catch (err) {
      waiter.reject(err);
    }
  };

  #onCloseEvent = (event: CloseEvent): void => {
    const error = event.wasClean
      ? new CloseError(event.code as CloseCode, event.reason)
      : new WebSocketError("closed", "Connection failed");
    this.onClose?.(event.code as CloseCode, event.reason);
    this.#finish(event.code as CloseCode, event.reason, error);
  };

  #finish(code: CloseCode, reason: string, error: Error): void {
    this.#closeError ??= error;
    this.#closing = true;
    if (this.#finished) return;
    this.#finished = true;
    this.#resolveClosed({ code, reason });
    // Messages that arrived before the close are still read, then the error.
    if (this.#waiter !== null) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter.reject(this.#failure ?? this.#closeError);
    }
  }

  /** Whether a message that arrived exceeds the read limit, in UTF-8 for text. */
  #tooBig(data: Received): boolean {
    const limit = this.readLimit;
    if (typeof data !== "string") return data.byteLength > limit;
    // UTF-8 takes 1 to 3 bytes per UTF-16 code unit.
    if (data.length > limit) return true;
    return data.length * 3 > limit && encoder.encode(data).length > limit;
  }

  #enqueue(data: Received): void {
    const size = sizeOf(data);
    if (
      this.#queue.length >= this.#maxQueued ||
      this.#queuedBytes + size > this.#maxQueuedBytes
    ) {
      return this.#fail(
        new WebSocketError(
          "read_queue_full",
          `More than ${this.#maxQueued} messages or ${this.#maxQueuedBytes} bytes arrived unread`,
        ),
      );
    }
    this.#queue.push(data);
    this.#queuedBytes += size;
  }

  /** Fails the connection: drops what is queued, closes with the error's code. */
  #fail(error: WebSocketError): void {
    this.#failure = error;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    const { code, reason } = closeFrameFor(error);
    this.#sendClose(code, reason);
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(error);
  }

  /** Places a received message in the caller's buffer (or ours) and returns it. */
  #deliver(data: Received, buf: Uint8Array | undefined): Message {
    const msg = this.#message;
    if (typeof data === "string") {
      msg.opcode = OpCode.Text;
      msg.data = this.#encodeText(data, buf);
    } else {
      msg.opcode = OpCode.Binary;
      const bytes = new Uint8Array(data);
      this.#checkSize(bytes.length, buf);
      if (buf === undefined) {
        msg.data = bytes;
      } else {
        buf.set(bytes);
        msg.data = buf.subarray(0, bytes.length);
      }
    }
    return msg;
  }

  #encodeText(text: string, buf: Uint8Array | undefined): Uint8Array {
    let dest = buf;
    if (dest === undefined) {
      const want = Math.min(this.readLimit, text.length * 3);
      if (this.#internal === null || this.#internal.length < want) {
        this.#internal = new Uint8Array(Math.max(want, 1024));
      }
      dest = this.#internal;
    }
    const room = Math.min(dest.length, this.readLimit);
    const { read, written } = encoder.encodeInto(text, dest.subarray(0, room));
    if (read < text.length) {
      this.#checkSize(encoder.encode(text).length, buf);
    }
    return dest.subarray(0, written);
  }

  /** Fails the connection with 1009 when a message exceeds the limit or `buf`. */
  #checkSize(length: number, buf: Uint8Array | undefined): void {
    let error: WebSocketError | null = null;
    if (length > this.readLimit) {
      error = new WebSocketError(
        "message_too_big",
        `Message exceeds the ${this.readLimit}-byte read limit`,
      );
    } else if (buf !== undefined && length > buf.length) {
      error = new WebSocketError(
        "buffer_too_small",
        `Cannot read a ${length}-byte message into a ${buf.length}-byte buffer`,
      );
    }
    if (error === null) return;
    this.#fail(error);
    throw error;
  }
}

/** What a queued message counts against `maxQueuedBytes`. */
function sizeOf(data: Received): number {
  return typeof data === "string" ? data.length : data.byteLength;
}

function noFrames(): Promise<never> {
  return Promise.reject(
    new TypeError(
      "Cannot read or write frames through Deno.upgradeWebSocket: it delivers whole messages",
    ),
  );
}

function refuseHandler(kind: string, handler: unknown): void {
  if (handler !== undefined) {
    throw new TypeError(
      `Cannot watch ${kind}s through Deno.upgradeWebSocket: Deno answers them itself`,
    );
  }
}
