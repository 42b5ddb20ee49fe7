/**
 * The options of a {@linkcode Conn} and their defaults, checked once when it is built.
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import { ChunkSize, ReadLimit } from "../codec/limits.ts";
import type { ConnHooks } from "./hooks.ts";
import type { WriteBudget } from "../io/write_budget.ts";
import type { ReadLimits } from "./message_reader.ts";

/**
 * How a {@linkcode Conn} behaves: its role, limits and handlers.
 *
 * @example A server connection with a 64 KiB message limit
 * ```ts
 * import { type ConnOptions, ReadLimit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ConnOptions = { role: "server", readLimit: ReadLimit.Small };
 * assertEquals(options.readLimit, 65536);
 * ```
 */
export interface ConnOptions {
  /** Which side this is: clients mask their frames, servers expect masked ones. */
  role: "client" | "server";
  /** The largest message accepted, in bytes (default 1 MiB); larger ones close with 1009. */
  readLimit?: number;
  /** The read buffer, write scratchpad and default fragment size (default 4 KiB). */
  chunkSize?: number;
  /** The largest frame accepted, in bytes (default: the read limit); larger ones close with 1009. */
  maxFrameSize?: number;
  /** The most fragments one message may have (default 262,144); more close with 1009. */
  maxFragments?: number;
  /** How long `close()` waits for the peer's close frame, in ms (default 5,000). */
  closeTimeout?: number;
  /** Bytes already read from the transport: the start of the frame stream. */
  head?: Uint8Array;
  /** The subprotocol the handshake settled on. */
  protocol?: string;
  /** The extensions the handshake settled on, as a header value. */
  extensions?: string;
  /** RSV bits an extension negotiated (`Rsv.Rsv1` for permessage-deflate). */
  rsvAllowed?: number;
  /** `"auto"` calls a `Deno.Conn`'s `read`/`write` directly; `"byob"` uses its streams. */
  read?: "auto" | "byob";
  /** Bytes that may wait in the write scratchpad before writers wait (default: chunk size). */
  writeHighWaterMark?: number;
  /**
   * Bytes that may wait in the write queue before further writes are refused with
   * `write_buffer_full` (default 16 MiB). A single write is always taken when
   * nothing waits; awaiting each write keeps the queue empty.
   */
  writeBufferLimit?: number;
  /**
   * A budget shared with other connections for the bytes their write queues
   * hold together (default: none); a write past it is refused with
   * `write_buffer_full`, as one past `writeBufferLimit` is.
   */
  writeBudget?: WriteBudget;
  /**
   * Fails the connection with 1001 when nothing arrives for this many ms while a
   * read is waiting (default 0: off). The timer runs only while the caller reads.
   */
  idleTimeout?: number;
  /**
   * Called with each ping's payload (valid during the call). The default answers
   * with a pong; a handler of your own sends one itself if it wants one sent.
   */
  onPing?: (payload: Uint8Array) => void | Promise<void>;
  /** Called with each pong's payload (valid during the call). */
  onPong?: (payload: Uint8Array) => void;
  /** Called when the peer's close frame arrives, before it is answered. */
  onClose?: (code: CloseCode, reason: string) => void;
  /** Lifecycle hooks (frames, messages, errors, close), for metrics and logging. */
  hooks?: ConnHooks;
  /**
   * The longest each read call may take, in ms (default 0: none). Timed out
   * before any byte of its message arrived, a read rejects with a `TimeoutError`
   * and the connection stays usable; after, the connection fails with 1011
   * (`read_timeout`). A streamed read applies it to each piece.
   */
  readTimeout?: number;
  /**
   * The longest a write call may wait for the transport, in ms (default 0:
   * none); past it the connection is dropped (1006, `write_timeout`). Applies to
   * `writeMessage`, `writeFrame`, `writePrepared`, `ping` and `pong`.
   */
  writeTimeout?: number;
}

/** The sizes and times a connection runs with, every default filled in. */
export interface ConnSettings {
  /** Whether the peer's frames must be masked: a server's view of its client. */
  expectMasked: boolean;
  readLimit: number;
  chunkSize: number;
  maxFrameSize: number;
  maxFragments: number;
  closeTimeout: number;
  idleTimeout: number;
  readTimeout: number;
  writeTimeout: number;
  rsvAllowed: number;
  writeHighWaterMark: number | undefined;
  writeBufferLimit: number;
}

const DEFAULT_CLOSE_TIMEOUT = 5_000;
const DEFAULT_MAX_FRAGMENTS = 1 << 18;
const DEFAULT_WRITE_BUFFER_LIMIT = 16 << 20;
const MIN_CHUNK_SIZE = 64;

/**
 * Checks the options and fills in the defaults.
 *
 * @throws {TypeError} For an unknown role.
 * @throws {RangeError} When a size is not a positive integer, or the chunk size
 * is below 64 bytes.
 */
export function settingsOf(options: ConnOptions): ConnSettings {
  if (options.role !== "client" && options.role !== "server") {
    throw new TypeError(`Invalid role: ${options.role}`);
  }
  const readLimit = positive(
    "readLimit",
    options.readLimit ?? ReadLimit.Standard,
  );
  const chunkSize = positive(
    "chunkSize",
    options.chunkSize ?? ChunkSize.LowMemory,
  );
  if (chunkSize < MIN_CHUNK_SIZE) {
    throw new RangeError(`Chunk size must be at least ${MIN_CHUNK_SIZE} bytes`);
  }
  return {
    expectMasked: options.role === "server",
    readLimit,
    chunkSize,
    maxFrameSize: positive("maxFrameSize", options.maxFrameSize ?? readLimit),
    maxFragments: positive(
      "maxFragments",
      options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
    ),
    closeTimeout: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    idleTimeout: options.idleTimeout ?? 0,
    readTimeout: timeout("readTimeout", options.readTimeout),
    writeTimeout: timeout("writeTimeout", options.writeTimeout),
    rsvAllowed: options.rsvAllowed ?? 0,
    writeHighWaterMark: options.writeHighWaterMark,
    writeBufferLimit: options.writeBufferLimit ?? DEFAULT_WRITE_BUFFER_LIMIT,
  };
}

function timeout(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!(value >= 0 && value < 2 ** 31)) {
    throw new RangeError(`${name} must be a number of ms from 0, got ${value}`);
  }
  return value;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Limit sets handed out so far, by their values: most servers use one or two. */
const sharedLimits = new Map<string, ReadLimits>();
const MAX_SHARED_LIMITS = 64;

/**
 * The limits a connection's reader applies, as one frozen object shared by
 * every connection with the same values (one object less per connection).
 *
 * @example
 * ```ts
 * import { readLimitsOf, settingsOf } from "./conn_options.ts";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const settings = settingsOf({ role: "server" });
 * assertStrictEquals(readLimitsOf(settings), readLimitsOf(settingsOf({ role: "server" })));
 * ```
 */
export function readLimitsOf(settings: ConnSettings): ReadLimits {
  const key = `${settings.expectMasked} ${settings.rsvAllowed} ` +
    `${settings.readLimit} ${settings.maxFrameSize} ` +
    `${settings.maxFragments} ${settings.chunkSize}`;
  let limits = sharedLimits.get(key);
  if (limits === undefined) {
    limits = Object.freeze({
      expectMasked: settings.expectMasked,
      rsvAllowed: settings.rsvAllowed,
      readLimit: settings.readLimit,
      maxFrameSize: settings.maxFrameSize,
      maxFragments: settings.maxFragments,
      chunkSize: settings.chunkSize,
    });
    if (sharedLimits.size < MAX_SHARED_LIMITS) sharedLimits.set(key, limits);
  }
  return limits;
}
