/**
 * A `node:net` socket (or any Node duplex stream) as a {@linkcode Transport}, so a
 * {@linkcode Conn} can run on the socket a `node:http` server hands over on
 * `upgrade`.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { Transport } from "./transport.ts";
import { byteStreamOf } from "./byte_stream.ts";

/** Unread bytes above which the socket is paused until reads catch up. */
const HIGH_WATER = 64 * 1024;
const EMPTY = new Uint8Array(0);

interface PendingRead {
  buf: Uint8Array;
  resolve(n: number | null): void;
  reject(err: unknown): void;
}

/**
 * Adapts a Node socket to a {@linkcode Transport}.
 *
 * It offers `read`/`write`/`close` like a `Deno.Conn` (so a {@linkcode Conn} in
 * `"auto"` mode calls them directly, copying each chunk once into its buffer) and
 * `readable`/`writable` streams over the same bytes. Incoming data is queued and
 * the socket paused above 64 KiB of unread bytes. `prefix` is read before anything
 * from the socket: the `head` of an `upgrade` event goes there.
 *
 * @example Over a socket pair from `node:net`
 * ```ts
 * import { NodeSocketTransport } from "./node_socket.ts";
 * import { createServer, connect } from "node:net";
 * import { assertEquals } from "@std/assert";
 *
 * const server = createServer();
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const accepted = new Promise<import("node:net").Socket>((resolve) => server.once("connection", resolve));
 * const client = connect((server.address() as { port: number }).port, "127.0.0.1");
 * const transport = new NodeSocketTransport(await accepted, new Uint8Array([1]));
 * client.write(new Uint8Array([2, 3]));
 * const buf = new Uint8Array(8);
 * assertEquals(await transport.read(buf), 1); // the prefix comes first
 * assertEquals(await transport.read(buf), 2);
 * assertEquals(buf.subarray(0, 2), new Uint8Array([2, 3]));
 * client.destroy();
 * transport.close();
 * server.close();
 * ```
 */
export class NodeSocketTransport implements Transport {
  #socket: Duplex;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: unknown = null;
  #pending: PendingRead | null = null;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  /**
   * Takes over a socket: its `data`, `end`, `error` and `close` events.
   *
   * @param socket The socket, e.g. from a `node:http` server's `upgrade` event.
   * @param prefix Bytes to read before the socket's own, such as the `head`.
   */
  constructor(socket: Duplex, prefix: Uint8Array = EMPTY) {
    this.#socket = socket;
    if (prefix.length > 0) this.#push(prefix);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  /**
   * Reads at least one byte into `buf`.
   *
   * @param buf Where the bytes go.
   * @returns The number of bytes read, or `null` at the end of the stream.
   */
  read(buf: Uint8Array): Promise<number | null> {
    if (this.#pending !== null) {
      return Promise.reject(new TypeError("Cannot read: a read is pending"));
    }
    if (this.#queued > 0) return Promise.resolve(this.#take(buf));
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended || buf.length === 0) {
      return Promise.resolve(this.#ended ? null : 0);
    }
    return new Promise((resolve, reject) => {
      this.#pending = { buf, resolve, reject };
    });
  }

  /**
   * Writes all of `bytes`; settles once the socket has flushed them.
   *
   * @param bytes What to write; must stay unchanged until this settles.
   * @returns The number of bytes written.
   */
  write(bytes: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) {
      return Promise.reject(
        new Deno.errors.BrokenPipe("Cannot write: the socket is closed"),
      );
    }
    return new Promise((resolve, reject) => {
      socket.write(bytes, (err) => {
        if (err) reject(err);
        else resolve(bytes.length);
      });
    });
  }

  /** The peer's address, when the stream is a TCP socket that has one. */
  get remoteAddr(): Deno.NetAddr | null {
    const s = this.#socket as Partial<
      { remoteAddress: string; remotePort: number }
    >;
    return netAddr(s.remoteAddress, s.remotePort);
  }

  /** This end's address, when the stream is a TCP socket that has one. */
  get localAddr(): Deno.NetAddr | null {
    const s = this.#socket as Partial<
      { localAddress: string; localPort: number }
    >;
    return netAddr(s.localAddress, s.localPort);
  }

  /** Ends the writing side (sends FIN) once queued writes are flushed. */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.writableEnded) resolve();
      else this.#socket.end(resolve);
    });
  }

  /** Destroys the socket at once; pending reads end. */
  close(): void {
    this.#socket.destroy();
    this.#onEnd();
  }

  /** The incoming bytes as a byte stream (BYOB reads supported). */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= byteStreamOf({
      read: (buf) => this.read(buf),
      cancel: () => this.close(),
    }, 16 * 1024);
  }

  /** The outgoing bytes as a stream; closing it ends the writing side. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
  }

  #push(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued >= HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Copies queued bytes into `buf`, as many as fit. */
  #take(buf: Uint8Array): number {
    let n = 0;
    while (n < buf.length && this.#queue.length > 0) {
      const chunk = this.#queue[0];
      const count = Math.min(chunk.length, buf.length - n);
      buf.set(count === chunk.length ? chunk : chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.length) this.#queue.shift();
      else this.#queue[0] = chunk.subarray(count);
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  #settle(): void {
    const pending = this.#pending;
    if (pending === null) return;
    if (this.#queued > 0) {
      this.#pending = null;
      pending.resolve(this.#take(pending.buf));
    } else if (this.#error !== null) {
      this.#pending = null;
      pending.reject(this.#error);
    } else if (this.#ended) {
      this.#pending = null;
      pending.resolve(null);
    }
  }

  #onData = (chunk: Uint8Array | string): void => {
    if (typeof chunk === "string") {
      this.#onError(new TypeError("Socket has an encoding set: bytes needed"));
      return;
    }
    this.#push(chunk);
    this.#settle();
  };

  #onEnd = (): void => {
    this.#ended = true;
    this.#settle();
  };

  #onError = (err: unknown): void => {
    this.#error ??= err;
    this.#settle();
  };
}

/** A node socket's address as Deno spells it; `null` when it has none. */
function netAddr(
  hostname: string | undefined,
  port: number | undefined,
): Deno.NetAddr | null {
  if (typeof hostname !== "string" || typeof port !== "number") return null;
  return { transport: "tcp", hostname, port };
}
