/**
 * Byte transports under a connection: a `Deno.Conn`, a `Deno.TlsConn`, or any
 * pair of byte streams.
 *
 * @module
 */

/**
 * Anything a connection can run over: a readable byte stream and a writable one.
 *
 * `Deno.Conn` and `Deno.TlsConn` satisfy it. When the object also has `read`,
 * `write` and `close` methods (as `Deno.Conn` does), they are called directly:
 * that skips the stream machinery, measured at 1.5x the throughput of a BYOB
 * reader on 4 KiB reads (see `bench/README.md`). `read: "byob"` in the
 * connection options forces the stream path.
 *
 * @example An in-memory transport from two streams
 * ```ts
 * import type { Transport } from "@wsx/websocket";
 * import { assert } from "@std/assert";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const loopback: Transport = { readable, writable };
 * assert(loopback.readable);
 * ```
 */
export interface Transport {
  /** The incoming bytes. A byte stream (`type: "bytes"`) allows BYOB reads. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The outgoing bytes. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the underlying resource, where there is one. */
  close?(): void;
}

/**
 * How reads reach the transport: its own `read()` method (`"auto"`, for a
 * `Deno.Conn`) or a BYOB stream reader (`"byob"`, always).
 *
 * @example
 * ```ts
 * import { type ReadMode } from "./transport.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const mode: ReadMode = "byob"; // e.g. new Conn(tcp, { role: "server", read: mode })
 * assertEquals(mode, "byob");
 * ```
 */
export type ReadMode = "auto" | "byob";

interface DirectConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

function asDirect(t: Transport): DirectConn | null {
  const d = t as unknown as Partial<DirectConn>;
  return typeof d.read === "function" && typeof d.write === "function" &&
      typeof d.close === "function"
    ? d as DirectConn
    : null;
}

/**
 * The reading end of a transport, filling one buffer it owns.
 *
 * A BYOB read transfers the buffer it reads into: the old view is detached and the
 * bytes come back in a new `ArrayBuffer` object. `buffer` is rebound after every
 * read, so callers must re-read it rather than keep views over it.
 */
export class ByteSource {
  /** The buffer reads land in; replaced after each BYOB read. */
  buffer: Uint8Array;
  #direct: DirectConn | null;
  #byob: ReadableStreamBYOBReader | null = null;
  #chunks: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #leftover: Uint8Array | null = null;
  // Streams are only touched in stream mode: on a `Deno.Conn` each getter
  // creates one, a few KiB per idle connection that direct reads never use.
  #transport: Transport;

  /**
   * Prepares to read from a transport into a buffer of `size` bytes.
   *
   * @param transport Where bytes come from.
   * @param size The buffer size.
   * @param mode `"auto"` reads `Deno.Conn`-like objects directly; `"byob"` always
   * uses a stream reader.
   */
  constructor(transport: Transport, size: number, mode: ReadMode = "auto") {
    this.buffer = new Uint8Array(size);
    this.#direct = mode === "auto" ? asDirect(transport) : null;
    this.#transport = transport;
  }

  /** Whether reads go straight to the transport's `read()` (no buffer transfer). */
  get direct(): boolean {
    return this.#direct !== null;
  }

  /**
   * Reads at least one byte into `buffer[start..end)`.
   *
   * @param start Where the bytes go.
   * @param end The end of the free space; the buffer's length by default.
   * @returns The number of bytes read; 0 or `null` at the end of the stream.
   */
  read(
    start: number,
    end: number = this.buffer.length,
  ): Promise<number | null> {
    if (this.#direct !== null) {
      const whole = start === 0 && end === this.buffer.length;
      return this.#direct.read(
        whole ? this.buffer : this.buffer.subarray(start, end),
      );
    }
    return this.#readStream(start, end);
  }

  /**
   * Reads at least one byte straight into a caller's array, when that is possible
   * without detaching it (direct mode only).
   *
   * @param dest Where the bytes go.
   * @returns The number of bytes read (0 at the end), or -1 when only buffered
   * reads are possible.
   */
  async readInto(dest: Uint8Array): Promise<number> {
    if (this.#direct === null) return -1;
    const n = await this.#direct.read(dest);
    return n ?? 0;
  }

  async #readStream(start: number, end: number): Promise<number> {
    if (this.#byob === null && this.#chunks === null) this.#lock();
    if (this.#byob !== null) {
      const view = new Uint8Array(this.buffer.buffer, start, end - start);
      const { value, done } = await this.#byob.read(view);
      if (value !== undefined) this.buffer = new Uint8Array(value.buffer);
      return done ? 0 : value!.byteLength;
    }
    // A stream without BYOB support hands us its own chunks: copy them in.
    let chunk = this.#leftover;
    this.#leftover = null;
    if (chunk === null) {
      const { value, done } = await this.#chunks!.read();
      if (done) return 0;
      chunk = value;
    }
    const room = end - start;
    if (chunk.length > room) {
      this.#leftover = chunk.subarray(room);
      chunk = chunk.subarray(0, room);
    }
    this.buffer.set(chunk, start);
    return chunk.length;
  }

  #lock(): void {
    try {
      this.#byob = this.#transport.readable.getReader({ mode: "byob" });
    } catch {
      this.#chunks = this.#transport.readable.getReader();
    }
  }

  /**
   * Gives the stream back (releases its reader lock) so another reader can take it.
   *
   * @returns Bytes already taken from a non-BYOB stream but not yet read (they
   * belong to whoever reads next), or `null`.
   */
  release(): Uint8Array | null {
    this.#byob?.releaseLock();
    this.#chunks?.releaseLock();
    this.#byob = this.#chunks = null;
    const leftover = this.#leftover;
    this.#leftover = null;
    return leftover;
  }

  /** Stops reading: cancels the stream, which ends a pending read. */
  cancel(): void {
    if (this.#direct !== null) return;
    const reader = this.#byob ?? this.#chunks;
    (reader ? reader.cancel() : this.#transport.readable.cancel()).catch(
      () => {},
    );
  }
}

/** The writing end of a transport. */
export class ByteSink {
  #direct: DirectConn | null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #transport: Transport;

  /**
   * Prepares to write to a transport.
   *
   * @param transport Where bytes go.
   * @param mode `"auto"` writes `Deno.Conn`-like objects directly.
   */
  constructor(transport: Transport, mode: ReadMode = "auto") {
    this.#direct = mode === "auto" ? asDirect(transport) : null;
    this.#transport = transport;
  }

  /**
   * Writes some of `bytes`, at least one. The caller must not change them until
   * this settles.
   *
   * @param bytes What to write.
   * @returns How many bytes were written.
   */
  writeSome(bytes: Uint8Array): Promise<number> {
    if (this.#direct !== null) return this.#direct.write(bytes);
    return this.#writeStream(bytes);
  }

  // Apart from `writeSome`: its closure would make each direct write allocate
  // a context.
  #writeStream(bytes: Uint8Array): Promise<number> {
    this.#writer ??= this.#transport.writable.getWriter();
    return this.#writer.write(bytes).then(() => bytes.length);
  }

  /**
   * Writes all of `bytes`. The caller must not change them until this settles.
   *
   * @param bytes What to write.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#direct !== null) {
      let n = await this.#direct.write(bytes);
      while (n < bytes.length) {
        n += await this.#direct.write(bytes.subarray(n));
      }
      return;
    }
    this.#writer ??= this.#transport.writable.getWriter();
    await this.#writer.write(bytes);
  }

  /** Closes the writing side of a stream transport (a no-op in direct mode). */
  async close(): Promise<void> {
    if (this.#direct !== null) return;
    this.#writer ??= this.#transport.writable.getWriter();
    await this.#writer.close();
  }

  /** Aborts the writing side of a stream transport (a no-op in direct mode). */
  abort(): void {
    if (this.#direct !== null) return;
    (this.#writer ? this.#writer.abort() : this.#transport.writable.abort())
      .catch(
        () => {},
      );
  }
}

/**
 * Closes a transport's resource, ignoring a second close.
 *
 * @param transport The transport to close.
 */
export function closeTransport(transport: Transport): void {
  try {
    transport.close?.();
  } catch {
    // Already closed.
  }
}

/**
 * Turns Nagle's algorithm off where the transport can: frames are written whole,
 * so holding back a small write for an ACK only adds latency (about 40 ms when it
 * meets a delayed ACK).
 */
export function setNoDelay(transport: Transport): void {
  try {
    (transport as Partial<Deno.TcpConn>).setNoDelay?.(true);
  } catch {
    // Closed already, or not a socket: the first read or write will tell.
  }
}
