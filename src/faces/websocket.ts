/**
 * The WHATWG `WebSocket` interface over this module's connections: a drop-in for
 * the browser's and Deno's built-in class, with permessage-deflate, limits and an
 * options argument for what the standard lacks.
 *
 * Over 500 lines, just: the WHATWG class's attributes, events and overloads
 * are one public surface; its send queue and argument checks are in
 * send_queue.ts and _web_checks.ts.
 *
 * @module
 */

import { CloseError } from "../codec/errors.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { dial, type DialOptions } from "../handshake/dial.ts";
import { ADOPT, type Adopting } from "./_adopt.ts";
import {
  checkClose,
  parseProtocols,
  parseWebSocketUrl,
  utf8Length,
} from "./_web_checks.ts";
import { SendQueue } from "./send_queue.ts";

/**
 * What `new WebSocket(url, protocols, options)` adds to the standard: the
 * {@linkcode dial} options, with permessage-deflate on by default.
 *
 * @example
 * ```ts
 * import type { WebSocketOptions } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const options: WebSocketOptions = { headers: { authorization: "Bearer t" }, readLimit: 65536 };
 * assertEquals(options.readLimit, 65536);
 * ```
 */
export interface WebSocketOptions extends Omit<DialOptions, "protocols"> {
  /** Subprotocols to offer, when the second argument is these options. */
  protocols?: string | string[];
  /**
   * permessage-deflate: offered by default (`true`); `false` turns it off, options
   * tune it. Whether the server agreed shows in `extensions`.
   */
  deflate?: DialOptions["deflate"];
  /**
   * Aborting fails the connection (`error`, then `close` with 1006), while it
   * connects or later.
   */
  signal?: AbortSignal;
}

type EventName = keyof WebSocketEventMap;
type AnyHandler = (this: globalThis.WebSocket, ev: Event) => unknown;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const decoder = new TextDecoder();

/**
 * A WebSocket client with the standard's shape (WHATWG HTML, "The WebSocket
 * interface"): events `open`, `message`, `error` and `close` (with their `on…`
 * attributes), `readyState`, `binaryType`, `bufferedAmount`, `send` and `close`.
 * Code written for the browser's class runs on it unchanged; the gains are
 * compression (negotiated by default), the connection's limits and ordered,
 * accounted sends.
 *
 * Events are dispatched asynchronously, never inside `send` or `close`. A
 * failure fires `error` (an `ErrorEvent` whose `error` says why, such as the
 * `WebSocketError` of a message over `readLimit`) and then `close` with 1006, as
 * the standard says for a connection that ended without the peer's close frame.
 *
 * @example One-line migration from the built-in class
 * ```ts
 * import { WebSocket } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}`);
 * ws.onopen = () => ws.send("hello");
 * const reply = await new Promise<string>((resolve) => {
 *   ws.onmessage = (e) => resolve(e.data);
 * });
 * assertEquals(reply, "hello");
 * ws.close();
 * await new Promise((resolve) => ws.onclose = resolve);
 * await server.shutdown();
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection is being established. */
  static readonly CONNECTING: 0 = CONNECTING;
  /** The connection is open: messages may be sent. */
  static readonly OPEN: 1 = OPEN;
  /** The closing handshake has started. */
  static readonly CLOSING: 2 = CLOSING;
  /** The connection is closed. */
  static readonly CLOSED: 3 = CLOSED;

  #url: string;
  #origin: string;
  #state: number = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #conn: WebSocketConn | null = null;
  #sends: SendQueue | null = null;
  #buffered = 0;
  /** Why the connection was failed from here (an abort), if it was. */
  #failure: unknown = undefined;
  #abort = new AbortController();
  #handlers: Partial<Record<EventName, AnyHandler | null>> = {};

  /**
   * Connects to `url`, offering `protocols` and permessage-deflate.
   *
   * @param url A `ws:` or `wss:` URL (`http:` and `https:` are taken as them).
   * @param protocols Subprotocols to offer, most preferred first; or the options
   * (as Deno's built-in class takes them).
   * @param options Headers, limits, TLS roots, compression, a signal.
   * @throws {DOMException} `SyntaxError` for an invalid URL, scheme or
   * subprotocol list, as the standard says.
   */
  constructor(
    url: string | URL,
    protocols?: string | string[] | WebSocketOptions,
    options?: WebSocketOptions,
  ) {
    super();
    if (isOptions(protocols)) {
      options = { ...protocols, ...options };
      protocols = options.protocols;
    }
    const target = parseWebSocketUrl(url);
    const offered = parseProtocols(protocols);
    this.#url = target.href;
    this.#origin = target.origin;
    const adopted = (options as Adopting | undefined)?.[ADOPT];
    if (adopted !== undefined) {
      // Opens a task later, as Deno's server socket does once its response is
      // sent: a handler that awaits before setting `onopen` still sees `open`.
      this.#run(new Promise((resolve) => setTimeout(resolve, 0, adopted)));
      return;
    }
    const signals = [this.#abort.signal];
    if (options?.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    signal.addEventListener("abort", () => this.#fail(signal.reason), {
      once: true,
    });
    this.#run(dial(target, {
      ...options,
      deflate: options?.deflate ?? true,
      protocols: offered,
      signal,
    }));
  }

  /** The connection is being established. */
  get CONNECTING(): 0 {
    return CONNECTING;
  }
  /** The connection is open. */
  get OPEN(): 1 {
    return OPEN;
  }
  /** The closing handshake has started. */
  get CLOSING(): 2 {
    return CLOSING;
  }
  /** The connection is closed. */
  get CLOSED(): 3 {
    return CLOSED;
  }

  /** The URL, as parsed (`http:` turned into `ws:`). */
  get url(): string {
    return this.#url;
  }
  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    return this.#state;
  }
  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#protocol;
  }
  /** The extensions the server agreed to, such as `"permessage-deflate"`, or `""`. */
  get extensions(): string {
    return this.#extensions;
  }
  /** Bytes passed to `send` that have not reached the socket yet. */
  get bufferedAmount(): number {
    return this.#buffered + (this.#sends?.bufferedAmount ?? 0);
  }
  /** How binary messages arrive: as a `Blob` (default) or an `ArrayBuffer`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /** Called when the connection opens. */
  get onopen(): ((this: globalThis.WebSocket, ev: Event) => unknown) | null {
    return (this.#handlers.open ?? null) as
      | ((this: globalThis.WebSocket, ev: Event) => unknown)
      | null;
  }
  set onopen(fn: ((this: globalThis.WebSocket, ev: Event) => unknown) | null) {
    this.#setHandler("open", fn);
  }
  /** Called with each `MessageEvent`. */
  get onmessage():
    | ((this: globalThis.WebSocket, ev: MessageEvent) => unknown)
    | null {
    return (this.#handlers.message ?? null) as
      | ((this: globalThis.WebSocket, ev: MessageEvent) => unknown)
      | null;
  }
  set onmessage(
    fn: ((this: globalThis.WebSocket, ev: MessageEvent) => unknown) | null,
  ) {
    this.#setHandler("message", fn);
  }
  /** Called when the connection failed, before `onclose`. */
  get onerror(): ((this: globalThis.WebSocket, ev: Event) => unknown) | null {
    return (this.#handlers.error ?? null) as
      | ((this: globalThis.WebSocket, ev: Event) => unknown)
      | null;
  }
  set onerror(fn: ((this: globalThis.WebSocket, ev: Event) => unknown) | null) {
    this.#setHandler("error", fn);
  }
  /** Called with the `CloseEvent` once the connection is closed. */
  get onclose():
    | ((this: globalThis.WebSocket, ev: CloseEvent) => unknown)
    | null {
    return (this.#handlers.close ?? null) as
      | ((this: globalThis.WebSocket, ev: CloseEvent) => unknown)
      | null;
  }
  set onclose(
    fn: ((this: globalThis.WebSocket, ev: CloseEvent) => unknown) | null,
  ) {
    this.#setHandler("close", fn);
  }

  /**
   * Queues a message: a string as text, bytes or a Blob as binary, in the order
   * of the calls. After `close()` the data is only counted in `bufferedAmount`.
   *
   * @param data The message.
   * @throws {DOMException} `InvalidStateError` while connecting.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state === CONNECTING) {
      throw new DOMException(
        "Cannot send while the connection is being established",
        "InvalidStateError",
      );
    }
    let item: string | Uint8Array | Blob;
    let size: number;
    if (typeof data === "string") {
      item = data;
      size = utf8Length(data);
    } else if (data instanceof Blob) {
      item = data;
      size = data.size;
    } else if (ArrayBuffer.isView(data)) {
      item = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        .slice();
      size = item.length;
    } else if (
      data instanceof ArrayBuffer || data instanceof SharedArrayBuffer
    ) {
      item = new Uint8Array(data).slice();
      size = item.length;
    } else {
      item = String(data);
      size = utf8Length(item);
    }
    if (this.#state !== OPEN) this.#buffered += size;
    else this.#sends!.push(item, size);
  }

  /**
   * Starts the closing handshake (after the messages already sent), or fails a
   * connection still being established. Does nothing once closing.
   *
   * @param code 1000 or 3000-4999.
   * @param reason At most 123 bytes of UTF-8.
   * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError`
   * for a longer reason.
   */
  close(code?: number, reason?: string): void {
    const c = code === undefined ? undefined : clampCode(code);
    const r = reason === undefined ? "" : String(reason);
    checkClose(c, r);
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    if (this.#state === CONNECTING) {
      this.#state = CLOSING;
      this.#abort.abort(
        new DOMException("Closed while connecting", "AbortError"),
      );
      return;
    }
    this.#state = CLOSING;
    this.#sends!.close(c, r).catch(() => this.#conn?.abort());
  }

  /**
   * Adds a listener (`open`, `message`, `error`, `close` or any other type).
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: globalThis.WebSocket, ev: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener for any event type.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  /**
   * Removes a listener.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: globalThis.WebSocket, ev: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of any event type.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener.
   *
   * @param type The event type.
   * @param listener The listener.
   * @param options As for `EventTarget`.
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  #setHandler(type: EventName, fn: unknown): void {
    const value = typeof fn === "function" ? fn as AnyHandler : null;
    if (!(type in this.#handlers)) {
      this.addEventListener(
        type,
        (ev: Event) =>
          this.#handlers[type]?.call(this as globalThis.WebSocket, ev),
      );
    }
    this.#handlers[type] = value;
  }

  /** Fails the connection: an abort while connecting or later. */
  #fail(reason: unknown): void {
    this.#failure ??= reason;
    if (this.#state !== CLOSED) this.#state = CLOSING;
    this.#conn?.abort();
  }

  async #run(connecting: Promise<WebSocketConn>): Promise<void> {
    let conn: WebSocketConn;
    try {
      conn = await connecting;
    } catch (err) {
      this.#finish(1006, "", this.#failure ?? err);
      return;
    }
    if (this.#state !== CONNECTING) {
      conn.abort();
      this.#finish(1006, "", this.#failure);
      return;
    }
    this.#conn = conn;
    this.#sends = new SendQueue(conn);
    this.#protocol = conn.protocol;
    this.#extensions = conn.extensions;
    this.#state = OPEN;
    this.dispatchEvent(new Event("open"));
    const onClose = conn.onClose;
    conn.onClose = (code, reason) => {
      if (this.#state === OPEN) this.#state = CLOSING;
      onClose?.(code, reason);
    };
    const error = await this.#receive(conn);
    const { code, reason } = await conn.closed;
    this.#finish(code, reason, this.#failure ?? error);
  }

  /**
   * Dispatches messages until the connection ends: `null` when the peer's close
   * frame ended it, else the failure.
   */
  async #receive(conn: WebSocketConn): Promise<unknown> {
    try {
      for (;;) {
        const msg = await conn.readMessage();
        if (this.#state !== OPEN) continue;
        const data = msg.opcode === 1
          ? decoder.decode(msg.data)
          : this.#binaryType === "blob"
          ? new Blob([msg.data as Uint8Array<ArrayBuffer>])
          : msg.data.slice().buffer;
        this.dispatchEvent(
          new MessageEvent("message", { data, origin: this.#origin }),
        );
      }
    } catch (err) {
      return err instanceof CloseError ? null : err;
    }
  }

  /**
   * The end: `CLOSED`, then `error` (an `ErrorEvent` carrying the failure) if the
   * connection failed, then `close`. A failed connection received no close
   * frame, so its code is 1006 whatever code we sent.
   */
  #finish(code: number, reason: string, failure: unknown): void {
    this.#state = CLOSED;
    if (this.#sends) this.#buffered += this.#sends.bufferedAmount;
    this.#sends = null;
    const failed = failure !== null && failure !== undefined || code === 1006;
    if (failed) {
      const message = failure instanceof Error
        ? failure.message
        : "The connection failed";
      this.dispatchEvent(new ErrorEvent("error", { error: failure, message }));
    }
    this.dispatchEvent(
      new CloseEvent("close", {
        wasClean: !failed,
        code: failed ? 1006 : code,
        reason: failed ? "" : reason,
      }),
    );
  }
}

function isOptions(
  value: string | string[] | WebSocketOptions | undefined,
): value is WebSocketOptions {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(Symbol.iterator in value);
}

/** WebIDL's `[Clamp] unsigned short`. */
function clampCode(code: number): number {
  const n = Number(code);
  if (Number.isNaN(n)) return 0;
  return Math.min(Math.max(Math.round(n), 0), 0xffff);
}
