/**
 * Fixtures for hub tests over real sockets: a listener whose connections are
 * accepted over a transport that counts its writes, clients that collect what
 * they receive, and a raw client that does the handshake by hand and then keeps
 * every byte the server sends.
 *
 * @module
 */

import { accept, type AcceptOptions, dial, OpCode } from "../../mod.ts";
import type { DialOptions, WebSocketConn } from "../../mod.ts";
import { CountingConn } from "../_pair.ts";
import { concat, dec, enc } from "../_wire.ts";

/** A server connection, its transport, and the loop that reads it until it closes. */
export interface ServerSide {
  conn: WebSocketConn;
  transport: CountingConn;
}

/** A listener on 127.0.0.1 that accepts WebSockets and hands each to `onConn`. */
export class HubServer implements AsyncDisposable {
  readonly url: string;
  readonly conns: ServerSide[] = [];
  #listener: Deno.Listener;
  #tasks: Promise<unknown>[] = [];
  #accepting: Promise<void>;

  constructor(
    options: AcceptOptions,
    onConn: (conn: WebSocketConn) => void,
  ) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.url = `ws://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}/`;
    this.#accepting = this.#accept(options, onConn);
  }

  async #accept(
    options: AcceptOptions,
    onConn: (conn: WebSocketConn) => void,
  ): Promise<void> {
    for (;;) {
      let tcp: Deno.Conn;
      try {
        tcp = await this.#listener.accept();
      } catch {
        return;
      }
      const transport = new CountingConn(tcp);
      const conn = await accept(transport, { closeTimeout: 500, ...options });
      this.conns.push({ conn, transport });
      onConn(conn);
      // Reads until the peer closes, so closing handshakes complete.
      this.#tasks.push((async () => {
        try {
          for await (const _ of conn);
        } catch {
          // The connection failed: nothing more to read.
        }
      })());
    }
  }

  /** Waits until `n` connections have been accepted (at most 5 s). */
  async waitConns(n: number): Promise<void> {
    await until(() => this.conns.length >= n, `${n} connections`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const { conn } of this.conns) conn.abort();
    await Promise.all(this.#tasks);
    await Promise.all(this.conns.map(({ conn }) => conn.closed));
  }
}

/** Polls `check` every 5 ms for at most `ms`; throws naming `what` when it never holds. */
export async function until(
  check: () => boolean,
  what: string,
  ms = 5_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A client that collects the text of every message it receives. */
export class Collector implements AsyncDisposable {
  readonly received: string[] = [];
  readonly opcodes: number[] = [];
  readonly conn: WebSocketConn;
  #reading: Promise<void>;

  private constructor(conn: WebSocketConn) {
    this.conn = conn;
    this.#reading = (async () => {
      try {
        for await (const msg of conn) {
          this.received.push(dec(msg.data));
          this.opcodes.push(msg.opcode);
        }
      } catch {
        // Closed or failed: the test looks at what arrived.
      }
    })();
  }

  static async connect(url: string, options?: DialOptions): Promise<Collector> {
    return new Collector(await dial(url, options));
  }

  /** Waits until `n` messages have arrived. */
  async waitFor(n: number, ms?: number): Promise<string[]> {
    await until(() => this.received.length >= n, `${n} messages`, ms);
    return this.received;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.conn.close().catch(() => this.conn.abort());
    await this.#reading;
  }
}

/**
 * A client whose handshake is written by hand, offering `extensions`; after it,
 * it keeps every byte the server sends (or none, when `read` is false: a peer
 * that never reads).
 */
export class RawClient {
  readonly tcp: Deno.Conn;
  readonly response: string;
  bytes: Uint8Array = new Uint8Array(0);
  #reading: Promise<void> = Promise.resolve();

  private constructor(tcp: Deno.Conn, response: string, rest: Uint8Array) {
    this.tcp = tcp;
    this.response = response;
    this.bytes = rest;
  }

  static async connect(
    url: string,
    extensions = "",
    read = true,
  ): Promise<RawClient> {
    const { port } = new URL(url);
    const tcp = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(port),
    });
    const head = [
      "GET / HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...(extensions ? [`Sec-WebSocket-Extensions: ${extensions}`] : []),
      "",
      "",
    ].join("\r\n");
    await tcp.write(enc(head));
    let got = new Uint8Array(0);
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await tcp.read(buf);
      if (n === null) throw new Error("Closed during the handshake");
      got = concat(got, buf.subarray(0, n));
      const end = dec(got).indexOf("\r\n\r\n");
      if (end >= 0) {
        const client = new RawClient(
          tcp,
          dec(got.subarray(0, end)),
          got.subarray(end + 4),
        );
        if (read) client.#reading = client.#readAll();
        return client;
      }
    }
  }

  async #readAll(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.tcp.read(buf);
        if (n === null) return;
        this.bytes = concat(this.bytes, buf.subarray(0, n));
      }
    } catch {
      // Reset by the server.
    }
  }

  /** Waits until at least `n` bytes have arrived. */
  async waitBytes(n: number): Promise<Uint8Array> {
    await until(() => this.bytes.length >= n, `${n} bytes`);
    return this.bytes;
  }

  async close(): Promise<void> {
    try {
      this.tcp.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }
}

export { OpCode };
