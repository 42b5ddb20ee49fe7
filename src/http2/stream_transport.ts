/**
 * One HTTP/2 stream as a {@linkcode Transport}: the bytes of a WebSocket
 * bootstrapped with extended CONNECT (RFC 8441) are the stream's DATA frames.
 *
 * @module
 */

import { constants, type Http2Stream } from "node:http2";
import { CloseCode } from "../codec/close_code.ts";
import { NodeSocketTransport } from "../io/node_socket.ts";
import { defer } from "./defer.ts";

/** How long an ended stream waits for the peer's END_STREAM before a reset, in ms. */
const LINGER_MS = 1_000;

/**
 * The DATA frames of an HTTP/2 stream as a transport, ended the RFC 8441 §6 way.
 *
 * Reads and writes are those of {@linkcode NodeSocketTransport}: a write settles
 * once the session has taken the bytes, which HTTP/2 flow control holds back
 * while the peer does not read this stream (other streams go on). Closing depends
 * on how the WebSocket ended, told by {@linkcode Http2StreamTransport.settle}: a
 * closing handshake (any code but 1006) ends the stream with END_STREAM, and
 * resets it with NO_ERROR only if the peer has not ended its side within a
 * second; an abnormal closure (1006) resets it with CANCEL at once.
 *
 * @example Ending a stream after the closing handshake
 * ```ts ignore
 * import { Http2StreamTransport } from "./stream_transport.ts";
 * import { Conn } from "../conn/conn.ts";
 *
 * declare const stream: import("node:http2").ServerHttp2Stream;
 * const transport = new Http2StreamTransport(stream);
 * const conn = new Conn(transport, { role: "server" });
 * conn.closed.then(({ code }) => transport.settle(code));
 * ```
 */
export class Http2StreamTransport extends NodeSocketTransport {
  readonly #stream: Http2Stream;
  #closing = false;
  #code: number | null = null;
  #done = false;

  /**
   * Takes over a stream whose WebSocket handshake is answered.
   *
   * @param stream The stream: its DATA frames carry the WebSocket's bytes.
   */
  constructor(stream: Http2Stream) {
    super(stream);
    this.#stream = stream;
  }

  /**
   * Tells how the WebSocket ended, which decides how the stream ends.
   *
   * @param code The close code the connection reported.
   */
  settle(code: number): void {
    this.#code = code;
    if (this.#closing) this.#finish();
  }

  /** Ends the stream as {@linkcode settle} says, once both it and this were called. */
  override close(): void {
    this.#closing = true;
    if (this.#code !== null) this.#finish();
  }

  /** Resets the stream with CANCEL at once. */
  reset(): void {
    this.#code = CloseCode.AbnormalClosure;
    this.close();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    defer(() => this.#end());
  }

  #end(): void {
    const stream = this.#stream;
    if (stream.closed || stream.destroyed) return;
    if (this.#code === CloseCode.AbnormalClosure) {
      stream.close(constants.NGHTTP2_CANCEL);
      return;
    }
    stream.end();
    if (stream.readableEnded) return;
    // Nothing is read any more: discard what comes until the peer ends its side.
    stream.removeAllListeners("data");
    stream.on("data", () => {});
    stream.resume();
    const timer = setTimeout(
      () => defer(() => stream.close(constants.NGHTTP2_NO_ERROR)),
      LINGER_MS,
    );
    stream.once("close", () => clearTimeout(timer));
  }
}
