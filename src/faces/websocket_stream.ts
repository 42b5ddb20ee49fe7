/**
 * The WHATWG `WebSocketStream` interface (the explainer Chromium ships) over this
 * module's connections: messages as a `ReadableStream` and a `WritableStream`,
 * with backpressure both ways and permessage-deflate on by default.
 *
 * @module
 */

import { CloseError } from "../codec/errors.ts";
import { OpCode } from "../codec/opcode.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { dial, type DialOptions } from "../handshake/dial.ts";
import { ADOPT, type Adopting } from "./_adopt.ts";
import {
  checkClose,
  parseProtocols,
  parseWebSocketUrl,
} from "./_web_checks.ts";

/**
 * The options of `new WebSocketStream(url, options)`: the standard's
 * `protocols` and `signal`, and the {@linkcode dial} options besides
 * (permessage-deflate on by default).
 *
 * @example
 * ```ts
 * import type { WebSocketStreamOptions } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const options: WebSocketStreamOptions = { protocols: ["chat"], signal: AbortSignal.timeout(5000) };
 * assertEquals(options.protocols, ["chat"]);
 * ```
 */
export interface WebSocketStreamOptions extends Omit<DialOptions, "protocols"> {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Aborts the opening handshake: `opened` and `closed` reject. */
  signal?: AbortSignal;
  /** permessage-deflate: offered by default (`true`); `false` turns it off. */
  deflate?: DialOptions["deflate"];
}

/**
 * What `opened` resolves to: the two streams and what the handshake agreed.
 *
 * @example
 * ```ts
 * import type { WebSocketOpenInfo } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const info: WebSocketOpenInfo = {
 *   readable: new ReadableStream(),
 *   writable: new WritableStream(),
 *   extensions: "",
 *   protocol: "chat",
 * };
 * assertEquals(info.protocol, "chat");
 * ```
 */
export interface WebSocketOpenInfo {
  /** Each message: a `string` for text, a `Uint8Array` for binary. */
  readable: ReadableStream<string | Uint8Array<ArrayBuffer>>;
  /** Takes bytes (sent as binary); anything else is sent as text, as a string. */
  writable: WritableStream<string | ArrayBufferLike | ArrayBufferView>;
  /** The extensions agreed, such as `"permessage-deflate"`, or `""`. */
  extensions: string;
  /** The subprotocol agreed, or `""`. */
  protocol: string;
}

/**
 * A close code and reason: what `close()` takes and `closed` resolves to.
 *
 * @example
 * ```ts
 * import type { WebSocketCloseInfo } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const info: WebSocketCloseInfo = { closeCode: 4000, reason: "done" };
 * assertEquals(info.closeCode, 4000);
 * ```
 */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999 when closing; the code received when closed. */
  closeCode?: number;
  /** At most 123 bytes of UTF-8. */
  reason?: string;
}

const decoder = new TextDecoder();

/**
 * A WebSocket as a pair of streams, with the shape of the WHATWG explainer and of
 * Chromium's class: `opened` gives `{ readable, writable, extensions, protocol }`,
 * `closed` gives `{ closeCode, reason }` (and rejects when the connection did
 * not close cleanly), `close({ closeCode, reason })` ends it.
 *
 * Backpressure is the streams': nothing is read from the socket while
 * `readable` is not pulled (its high-water mark is 0), and each write to
 * `writable` settles once its bytes have been handed to the socket.
 *
 * @example An echo round trip
 * ```ts
 * import { serve } from "@wsx/websocket";
 * import { toWebSocketStream, WebSocketStream } from "@wsx/websocket/web";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, deflate: true, onListen() {} }, async (conn) => {
 *   const { readable, writable } = await toWebSocketStream(conn).opened;
 *   await readable.pipeTo(writable);
 * });
 * const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}`);
 * const { readable, writable, extensions } = await wss.opened;
 * assertEquals(extensions.startsWith("permessage-deflate"), true);
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * const reader = readable.getReader();
 * assertEquals((await reader.read()).value, "hello");
 * wss.close({ closeCode: 1000, reason: "done" });
 * assertEquals((await wss.closed).closeCode, 1000);
 * await server.shutdown();
 * ```
 */
export class WebSocketStream {
  /** The URL, as parsed. */
  readonly url: string;
  /** Resolves once the handshake is done; rejects when it failed. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves with the close code and reason; rejects on an unclean close. */
  readonly closed: Promise<WebSocketCloseInfo>;

  #conn: WebSocketConn | null = null;
  #abort = new AbortController();
  #closing = false;

  /**
   * Connects to `url`.
   *
   * @param url A `ws:` or `wss:` URL (`http:` and `https:` are taken as them).
   * @param options Subprotocols, a signal, and the dial options.
   * @throws {DOMException} `SyntaxError` for an invalid URL or subprotocol list.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const target = parseWebSocketUrl(url);
    const protocols = parseProtocols(options.protocols);
    this.url = target.href;
    const adopted = (options as Adopting)[ADOPT];
    const signals = [this.#abort.signal];
    if (options.signal) signals.push(options.signal);
    const connecting = adopted !== undefined
      ? Promise.resolve(adopted)
      : dial(target, {
        ...options,
        deflate: options.deflate ?? true,
        protocols,
        signal: AbortSignal.any(signals),
      });
    this.opened = connecting.then((conn) => this.#open(conn));
    this.closed = connecting.then(async (conn) => {
      const { code, reason } = await conn.closed;
      if (code === 1006) {
        throw new DOMException(
          "The connection was not closed cleanly",
          "NetworkError",
        );
      }
      return { closeCode: code, reason };
    });
    // Either may go unobserved.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /**
   * Closes the connection (or stops the handshake) with a code and reason.
   *
   * @param closeInfo The code (1000 or 3000-4999; default 1000) and reason.
   * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError`
   * for a reason over 123 bytes.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const reason = closeInfo.reason ?? "";
    checkClose(closeInfo.closeCode, reason);
    if (this.#closing) return;
    this.#closing = true;
    if (this.#conn === null) {
      this.#abort.abort(
        new DOMException("Closed while connecting", "AbortError"),
      );
      return;
    }
    this.#conn.close(closeInfo.closeCode, reason).catch(() =>
      this.#conn?.abort()
    );
  }

  #open(conn: WebSocketConn): WebSocketOpenInfo {
    this.#conn = conn;
    const readable = new ReadableStream<string | Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        try {
          const msg = await conn.readMessage();
          controller.enqueue(
            msg.opcode === OpCode.Text
              ? decoder.decode(msg.data)
              : msg.data.slice(),
          );
        } catch (err) {
          if (err instanceof CloseError) controller.close();
          else controller.error(err);
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    const writable = new WritableStream<
      string | ArrayBufferLike | ArrayBufferView
    >({
      write: async (chunk) => {
        if (ArrayBuffer.isView(chunk)) {
          const { buffer, byteOffset, byteLength } = chunk;
          const bytes = new Uint8Array(buffer, byteOffset, byteLength);
          await conn.writeMessage(OpCode.Binary, bytes);
        } else if (
          chunk instanceof ArrayBuffer || chunk instanceof SharedArrayBuffer
        ) {
          await conn.writeMessage(OpCode.Binary, new Uint8Array(chunk));
        } else {
          await conn.writeMessage(OpCode.Text, String(chunk));
        }
        await conn.flush();
      },
      close: () => this.close(),
      abort: () => this.close(),
    }, { highWaterMark: 1 });
    return {
      readable,
      writable,
      extensions: conn.extensions,
      protocol: conn.protocol,
    };
  }
}
