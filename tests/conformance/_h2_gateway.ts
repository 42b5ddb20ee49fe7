/**
 * The harness's server side over HTTP/2 (RFC 8441): an extended CONNECT stream
 * dressed as a raw connection that carries an HTTP/1.1 upgrade, so that the
 * fuzzing server runs unchanged. Reads start with an upgrade request made from
 * the stream's header block; the harness's answer head is turned into the
 * stream's response (101 becomes 200, with its `Sec-WebSocket-Extensions`), and
 * everything after it into DATA. Closing resets the stream.
 *
 * @module
 */

import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { NodeSocketTransport } from "../../src/io/node_socket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Any valid key: the harness's 101 carries an accept value that HTTP/2 drops. */
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A `Deno.Conn`-like view of one extended CONNECT stream. */
export class Http2Gateway {
  #stream: ServerHttp2Stream;
  #transport: NodeSocketTransport;
  #request: Uint8Array | null;
  #head: Uint8Array | null = new Uint8Array(0);

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    this.#stream = stream;
    this.#transport = new NodeSocketTransport(stream);
    const lines = [
      `GET ${headers[":path"] ?? "/"} HTTP/1.1`,
      `Host: ${headers[":authority"] ?? "localhost"}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${KEY}`,
      `Sec-WebSocket-Version: ${headers["sec-websocket-version"] ?? ""}`,
    ];
    const offer = headers["sec-websocket-extensions"];
    if (offer !== undefined) lines.push(`Sec-WebSocket-Extensions: ${offer}`);
    this.#request = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
  }

  /** The made-up request first, then the stream's DATA. */
  read(buf: Uint8Array): Promise<number | null> {
    const request = this.#request;
    if (request === null) return this.#transport.read(buf);
    const n = Math.min(buf.length, request.length);
    buf.set(request.subarray(0, n));
    this.#request = n === request.length ? null : request.subarray(n);
    return Promise.resolve(n);
  }

  /** The answer head becomes the response; the bytes after it are DATA. */
  async write(bytes: Uint8Array): Promise<number> {
    if (this.#head === null) return await this.#transport.write(bytes);
    const joined = new Uint8Array(this.#head.length + bytes.length);
    joined.set(this.#head);
    joined.set(bytes, this.#head.length);
    const end = decoder.decode(joined).indexOf("\r\n\r\n");
    if (end < 0) {
      this.#head = joined;
      return bytes.length;
    }
    this.#head = null;
    const rest = joined.subarray(end + 4);
    const status = this.#respond(decoder.decode(joined.subarray(0, end)));
    if (status !== 101) this.#stream.end(rest);
    else if (rest.length > 0) await this.#transport.write(rest);
    return bytes.length;
  }

  close(): void {
    this.#transport.close();
  }

  setNoDelay(): void {}

  /** Answers the stream as the head says; returns the head's status. */
  #respond(head: string): number {
    const [line, ...fields] = head.split("\r\n");
    const status = Number(line.split(" ")[1]);
    const block: Record<string, string | number> = {
      ":status": status === 101 ? 200 : status,
    };
    for (const field of fields) {
      const colon = field.indexOf(":");
      const name = field.slice(0, colon).trim().toLowerCase();
      if (name === "sec-websocket-extensions") {
        block[name] = field.slice(colon + 1).trim();
      }
    }
    this.#stream.respond(block);
    return status;
  }
}
