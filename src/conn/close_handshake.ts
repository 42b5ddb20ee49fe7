/**
 * How a connection ends (RFC 6455 §7): the closing handshake in both directions,
 * failing on an error, lingering so that the close frame survives, and the final
 * shutdown of the transport.
 *
 * @module
 */

import { FIN, MAX_CONTROL_PAYLOAD } from "../codec/header.ts";
import { CloseCode, isValidCloseCode } from "../codec/close_code.ts";
import {
  closeFrameFor,
  decodeClosePayload,
  encodeClosePayload,
  MAX_CLOSE_REASON_BYTES,
} from "../codec/close_frame.ts";
import { CloseError, WebSocketError } from "../codec/errors.ts";
import { OpCode } from "../codec/opcode.ts";
import type { FrameReader } from "../io/frame_reader.ts";
import type { FrameWriter } from "../io/frame_writer.ts";
import {
  type ByteSink,
  type ByteSource,
  closeTransport,
  type Transport,
} from "../io/transport.ts";
import { withTimeout } from "../_timers.ts";

/** The longest a failed connection waits for the peer to hang up, in ms. */
const MAX_LINGER = 1_000;
const EMPTY = new Uint8Array(0);

/** How a connection closed: the code and reason it reports. */
export interface CloseInfo {
  code: CloseCode;
  reason: string;
}

/** What the closing handshake works with, and shuts down at the end. */
export interface CloseParts {
  transport: Transport;
  source: ByteSource;
  sink: ByteSink;
  frames: FrameReader;
  writer: FrameWriter;
  role: "client" | "server";
  closeTimeout: number;
}

/**
 * The end of one connection: which close frames went each way, the error every
 * later read rejects with, and the `closed` promise.
 */
export class CloseHandshake {
  /** The error every read rejects with from now on, once there is one. */
  error: Error | null = null;
  /** The idle timer, when the connection has one: stopped at the end. */
  idle: { stop(): void } | null = null;
  readonly #transport: Transport;
  readonly #source: ByteSource;
  readonly #sink: ByteSink;
  readonly #frames: FrameReader;
  readonly #writer: FrameWriter;
  readonly #role: "client" | "server";
  readonly #closeTimeout: number;
  #closeSent = false;
  #finished = false;
  /** The peer's close frame, when a frame-level read returned it. */
  #received: CloseInfo | null = null;
  // `closed` is made when first asked for: most connections never are.
  #closed: Promise<CloseInfo> | null = null;
  #resolveClosed: ((info: CloseInfo) => void) | null = null;
  /** How the connection closed, once it has. */
  #info: CloseInfo | null = null;

  constructor(parts: CloseParts) {
    this.#transport = parts.transport;
    this.#source = parts.source;
    this.#sink = parts.sink;
    this.#frames = parts.frames;
    this.#writer = parts.writer;
    this.#role = parts.role;
    this.#closeTimeout = parts.closeTimeout;
  }

  /** Resolves once the transport is closed, with the close code and reason. */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === null) {
      this.#closed = this.#info !== null
        ? Promise.resolve(this.#info)
        : new Promise((resolve) => this.#resolveClosed = resolve);
    }
    return this.#closed;
  }

  /** Whether our close frame went out (or is going): no data may follow it. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Whether the transport is closed. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Notes that a close frame is being written by hand (`writeFrame`). */
  markCloseSent(): void {
    this.#closeSent = true;
  }

  /** A rejection for a write after our close frame, or `null` while writes may go. */
  refuseWrite(): Promise<never> | null {
    if (!this.#closeSent && !this.#finished) return null;
    return Promise.reject(
      new WebSocketError(
        "closed",
        "Cannot write: the connection is closing or closed",
      ),
    );
  }

  /**
   * Takes the peer's close frame: tells `onClose`, echoes the code unless we
   * closed first, completes the handshake and throws the {@linkcode CloseError}
   * that ends reading.
   */
  async receive(
    payload: Uint8Array,
    onClose: ((code: CloseCode, reason: string) => void) | undefined,
  ): Promise<never> {
    const { code, reason } = decodeClosePayload(payload);
    onClose?.(code, reason);
    if (!this.#closeSent) {
      this.#closeSent = true;
      const echo = code === CloseCode.NoStatusReceived
        ? EMPTY
        : payload.subarray(0, 2);
      await this.#writer.write(FIN | OpCode.Close, echo).catch(ignore);
    }
    await this.#complete(code, reason);
    throw new CloseError(code, reason);
  }

  /**
   * Takes note of the peer's close frame that a frame-level read handed to the
   * caller: `close()` then only answers it, and reads end with its code.
   *
   * @throws {WebSocketError} For a payload that is not a valid close payload.
   */
  noteReceived(payload: Uint8Array): void {
    const { code, reason } = decodeClosePayload(payload);
    this.#received = { code, reason };
    this.error ??= new CloseError(code, reason);
  }

  /**
   * Starts the closing handshake from our side and waits for it to end, at most
   * the close timeout (then the transport is closed anyway, as 1006). Without a
   * code: 1000, or the peer's code when its close frame came already.
   *
   * @param drain Reads and discards until the peer's close frame, when no read
   * of the caller's will.
   */
  async close(
    code: CloseCode | undefined,
    reason: string,
    drain: () => void,
  ): Promise<void> {
    const echo = code === undefined && this.#received !== null;
    code ??= this.#received?.code ?? CloseCode.NormalClosure;
    if (!echo && !isValidCloseCode(code)) {
      throw new RangeError(`Invalid close code ${code}`);
    }
    // A peer's close frame without a code is answered without one.
    const payload = echo && code === CloseCode.NoStatusReceived
      ? EMPTY
      : encodeClosePayload(code, reason);
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(
        `Close reason exceeds ${MAX_CLOSE_REASON_BYTES} bytes`,
      );
    }
    if (this.#finished) return;
    const closeTimeout = this.#closeTimeout;
    if (!this.#closeSent) {
      this.#closeSent = true;
      try {
        await this.#writer.write(FIN | OpCode.Close, payload);
        await withTimeout(this.#writer.flush(), closeTimeout);
      } catch {
        this.shutdown(CloseCode.AbnormalClosure, "");
        return;
      }
    }
    if (this.#received !== null) {
      return this.#complete(this.#received.code, this.#received.reason);
    }
    if (this.error === null) drain();
    const closedInTime = await withTimeout(this.closed, closeTimeout);
    if (!closedInTime) this.shutdown(CloseCode.AbnormalClosure, "");
  }

  /** Turns a read failure into the sticky error, failing the connection first. */
  async readFailed(err: unknown): Promise<Error> {
    if (this.error !== null) return this.error;
    if (err instanceof CloseError) {
      this.error = err;
    } else if (
      err instanceof WebSocketError &&
      err.closeCode !== CloseCode.AbnormalClosure
    ) {
      await this.fail(err, true);
    } else {
      this.error = err instanceof WebSocketError ? err : new WebSocketError(
        "closed",
        this.#finished ? "Connection is closed" : "Connection failed",
        { cause: err },
      );
      this.shutdown(CloseCode.AbnormalClosure, "");
    }
    return this.error!;
  }

  /**
   * Fails the connection: sends the close frame `error` maps to, lingers when
   * asked (no read of ours is pending), and closes the transport.
   */
  async fail(error: WebSocketError, linger: boolean): Promise<void> {
    this.error ??= error;
    const { code, reason, payload } = closeFrameFor(error);
    if (!this.#closeSent && !this.#finished) {
      this.#closeSent = true;
      const closeTimeout = this.#closeTimeout;
      this.#writer.write(FIN | OpCode.Close, payload).catch(ignore);
      await withTimeout(this.#writer.flush().catch(ignore), closeTimeout);
      if (linger) {
        await withTimeout(this.#linger(), Math.min(closeTimeout, MAX_LINGER));
      }
    }
    this.shutdown(code, reason);
  }

  /** Closes the transport, once; `closed` resolves with `code` and `reason`. */
  shutdown(code: CloseCode, reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.idle?.stop();
    this.#writer.abandonHold();
    this.#source.cancel();
    this.#sink.abort();
    closeTransport(this.#transport);
    this.#info = { code, reason };
    this.#resolveClosed?.(this.#info);
    this.#resolveClosed = null;
  }

  /** Completes a closing handshake: the server drops TCP first, the client waits for it. */
  async #complete(code: CloseCode, reason: string): Promise<void> {
    const closeTimeout = this.#closeTimeout;
    await withTimeout(this.#writer.flush().catch(ignore), closeTimeout);
    if (this.#role === "client" && !this.#finished) {
      await withTimeout(this.#frames.drain().catch(ignore), closeTimeout);
    }
    this.shutdown(code, reason);
  }

  /**
   * Closing a socket with unread input sends a reset, which can destroy our close
   * frame before the peer reads it: half-close instead, and discard input until
   * the peer hangs up (for at most a second).
   */
  async #linger(): Promise<void> {
    const conn = this.#transport as Partial<Deno.Conn>;
    if (typeof conn.closeWrite !== "function") return;
    try {
      await conn.closeWrite();
      await this.#frames.drain();
    } catch {
      // Gone already, or a read is pending: nothing to linger for.
    }
  }
}

function ignore(): void {}
