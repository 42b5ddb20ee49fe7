/**
 * Timeouts and cancellation per operation: an `AbortSignal` on a read or write,
 * and the connection's `readTimeout` and `writeTimeout`.
 *
 * What an abort (or a timeout) does depends on how far the operation got:
 * - A read aborted before any byte of its message arrived rejects with the
 *   signal's reason (a `TimeoutError` `DOMException` for `readTimeout`) and
 *   leaves the connection usable: the transport read it started is kept for the
 *   next read, so no byte is lost.
 * - A read aborted once bytes of its message arrived fails the connection with
 *   1011 (`read_aborted`, `read_timeout`): the rest of the message cannot be
 *   told apart from the next one.
 * - A write aborted before it starts rejects with the signal's reason, nothing
 *   sent. A write still waiting for the transport when the signal aborts or the
 *   time runs out drops the connection (1006, `write_aborted`,
 *   `write_timeout`): part of its frame may be on the wire, and a close frame
 *   could not get past it.
 *
 * @module
 */

import { CloseCode } from "../codec/close_code.ts";
import { WebSocketError } from "../codec/errors.ts";
import type { FrameReader } from "../io/frame_reader.ts";
import type { FrameWriter } from "../io/frame_writer.ts";
import type { CloseHandshake } from "./close_handshake.ts";
import type { MessageReader } from "./message_reader.ts";

/**
 * Options of one read.
 *
 * @example A read given up before anything arrived: the connection stays usable
 * ```ts
 * import { Conn } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const silent = { readable: new ReadableStream<Uint8Array>(), writable: new WritableStream() };
 * const conn = new Conn(silent, { role: "client" });
 * const err = await conn.readMessage(undefined, { signal: AbortSignal.timeout(10) })
 *   .catch((e) => e);
 * assertEquals(err.name, "TimeoutError");
 * conn.abort();
 * ```
 */
export interface ReadOptions {
  /**
   * Aborts the read. Before any byte of the message arrived the read rejects with
   * the signal's reason and the connection stays usable; after, the connection
   * fails with 1011 (`read_aborted`).
   */
  signal?: AbortSignal;
}

/**
 * Options of one write.
 *
 * @example A write whose signal aborted already: nothing is sent
 * ```ts
 * import { Conn, OpCode } from "@wsx/websocket";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const sent: Uint8Array[] = [];
 * const writable = new WritableStream<Uint8Array>({ write: (c) => void sent.push(c) });
 * const conn = new Conn({ readable: new ReadableStream(), writable }, { role: "server" });
 * const signal = AbortSignal.abort(new Error("Cancelled"));
 * await assertRejects(() => conn.writeMessage(OpCode.Text, "hi", { signal }), Error, "Cancelled");
 * await conn.flush();
 * assertEquals(sent.length, 0);
 * conn.abort();
 * ```
 */
export interface WriteOptions {
  /**
   * Aborts the write. Already aborted: the write rejects with its reason and
   * nothing is sent. Aborted while the frame waits for the transport: the
   * connection is dropped (1006, `write_aborted`).
   */
  signal?: AbortSignal;
}

/** One operation's clock: the caller's signal and the connection's timeout. */
class Watch {
  readonly #signal: AbortSignal | undefined;
  readonly #onExpire: (timedOut: boolean, reason: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    signal: AbortSignal | undefined,
    timeout: number,
    onExpire: (timedOut: boolean, reason: unknown) => void,
  ) {
    this.#signal = signal;
    this.#onExpire = onExpire;
    signal?.addEventListener("abort", this.#aborted, { once: true });
    if (timeout > 0) this.#timer = setTimeout(this.#timedOut, timeout);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#aborted);
  }

  #aborted = (): void => {
    this.clear();
    this.#onExpire(false, this.#signal!.reason);
  };

  #timedOut = (): void => {
    this.clear();
    this.#onExpire(true, undefined);
  };
}

/** What the deadlines of a connection work with. */
export interface DeadlineParts {
  frames: FrameReader;
  reader: MessageReader;
  writer: FrameWriter;
  closing: CloseHandshake;
}

/**
 * The timeouts of one connection, and the transport read that an aborted read
 * left running. Made when a connection has a timeout, or gets its first signal.
 */
export class Deadlines {
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly #parts: DeadlineParts;
  #pendingFill: Promise<number | null> | null = null;

  constructor(readTimeout: number, writeTimeout: number, parts: DeadlineParts) {
    this.readTimeout = readTimeout;
    this.writeTimeout = writeTimeout;
    this.#parts = parts;
  }

  /**
   * Runs a read that `begin()` started. At a message boundary it first waits for
   * the next bytes, where an abort leaves the connection usable; then it runs
   * `read` (which turns its own failures into the connection's error), an abort
   * of which fails the connection.
   *
   * @param boundary Whether no message or frame is under way.
   */
  async read<T>(
    signal: AbortSignal | undefined,
    boundary: boolean,
    read: () => Promise<T>,
  ): Promise<T> {
    const { frames, reader, closing } = this.#parts;
    const timed = signal !== undefined || this.readTimeout > 0;
    let started = false;
    let stopWait: ((reason: unknown) => boolean) | null = null;
    const expire = (timedOut: boolean, reason: unknown) => {
      // Before the first byte the wait just ends; once it has ended, too late.
      if (!started && stopWait?.(timedOut ? timeoutReason() : reason)) return;
      closing.fail(this.#readError(timedOut, reason), false);
    };
    const watch = timed ? new Watch(signal, this.readTimeout, expire) : null;
    try {
      if (signal?.aborted) {
        if (boundary) throw signal.reason;
        expire(false, signal.reason);
      }
      if (this.#pendingFill !== null || (boundary && frames.buffered === 0)) {
        await this.#firstBytes(timed ? (stop) => stopWait = stop : null);
      }
      started = true;
      return await read();
    } catch (err) {
      if (!started) reader.reading = false;
      throw err;
    } finally {
      watch?.clear();
    }
  }

  #readError(timedOut: boolean, reason: unknown): WebSocketError {
    return timedOut
      ? new WebSocketError(
        "read_timeout",
        `Message not read within ${this.readTimeout} ms`,
      )
      : new WebSocketError("read_aborted", "Read aborted mid-message", {
        cause: reason,
      });
  }

  /**
   * Waits for the transport read of the next bytes, started now or left by an
   * aborted read. `onStop` receives what stops the wait early (the transport
   * read goes on, for the next read): it rejects the wait with its reason and
   * tells whether the wait was still going.
   */
  async #firstBytes(
    onStop: ((stop: (reason: unknown) => boolean) => void) | null,
  ): Promise<void> {
    const { frames, writer, closing } = this.#parts;
    if (this.#pendingFill === null) {
      // Replies held for a batch go out before waiting for the peer.
      writer.release();
      const fill = this.#pendingFill = frames.fill();
      fill.catch(ignore);
    }
    const fill = this.#pendingFill;
    let stopped: { reason: unknown } | null = null;
    let n: number | null | typeof STOPPED;
    try {
      n = await new Promise<number | null | typeof STOPPED>(
        (resolve, reject) => {
          let waiting = true;
          onStop?.((reason) => {
            if (!waiting) return false;
            stopped = { reason };
            resolve(STOPPED);
            return true;
          });
          fill.then((value) => {
            waiting = false;
            resolve(value);
          }, (err) => {
            waiting = false;
            reject(err);
          });
        },
      );
    } catch (err) {
      this.#pendingFill = null;
      frames.settle();
      throw await closing.readFailed(err);
    }
    if (n === STOPPED) throw stopped!.reason;
    this.#pendingFill = null;
    try {
      frames.commit(n);
    } catch (err) {
      throw await closing.readFailed(err);
    }
  }

  /**
   * Runs a write: refused when `signal` aborted already; dropped with the
   * connection when it is still waiting for the transport at the signal's abort
   * or the write timeout.
   */
  write(
    signal: AbortSignal | undefined,
    write: () => Promise<void>,
    timeout: number = this.writeTimeout,
  ): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const written = write();
    if (signal === undefined && timeout === 0) return written;
    return new Promise((resolve, reject) => {
      const watch = new Watch(signal, timeout, (timedOut, reason) => {
        const error = timedOut
          ? new WebSocketError(
            "write_timeout",
            `Write not taken by the transport within ${this.writeTimeout} ms`,
          )
          : new WebSocketError("write_aborted", "Write aborted while waiting", {
            cause: reason,
          });
        const { closing } = this.#parts;
        closing.error ??= error;
        closing.shutdown(CloseCode.AbnormalClosure, "");
        reject(error);
      });
      written.then((value) => {
        watch.clear();
        resolve(value);
      }, (err) => {
        watch.clear();
        reject(err);
      });
    });
  }
}

const STOPPED: unique symbol = Symbol("stopped");

/** What a read timed out before its first byte rejects with. */
function timeoutReason(): DOMException {
  return new DOMException("Read timed out", "TimeoutError");
}

function ignore(): void {}
