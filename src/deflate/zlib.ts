/**
 * The `node:zlib` DEFLATE engine: synchronous, with a settable level, window
 * (8-15 bits) and memory level.
 *
 * Over 500 lines, just: the zlib engine's compressor, decompressor and handle
 * pool belong together because they share one native-handle lifecycle; the
 * window replay after a final block lives in inflate_window.ts.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { constants, createDeflateRaw, createInflateRaw } from "node:zlib";
import { WebSocketError } from "../codec/errors.ts";
import { isValidUtf8 } from "../codec/utf8.ts";
import {
  type Compressor,
  type CompressorOptions,
  type Decompressor,
  type DeflateEngine,
  SYNC_TRAILER,
} from "./compressor.ts";
import type { InflateOutput } from "./inflate_output.ts";
import { InflateWindow } from "./inflate_window.ts";

/** Below this size the JavaScript check beats a call into native code. */
const NATIVE_UTF8_FROM = 256;

/**
 * Node's buffer module comes with node:zlib, so its native, equally strict UTF-8
 * check costs nothing more to load: about 2.5x faster on 4 KiB of ASCII.
 */
function checkUtf8(bytes: Uint8Array): boolean {
  return bytes.length >= NATIVE_UTF8_FROM ? isUtf8(bytes) : isValidUtf8(bytes);
}

const SYNC_FLUSH = constants.Z_SYNC_FLUSH;
const EMPTY = new Uint8Array(0);
const EMPTY_STORED_BLOCK = new Uint8Array([0x00, 0x00, 0x00, 0xff, 0xff]);
/** The compressor's first output buffer; it grows with the largest message. */
const INITIAL_OUTPUT = 1024;
/** Output buffers above this are dropped after use instead of kept per connection. */
const KEEP_OUTPUT = 64 * 1024;

/**
 * The native handle behind a `node:zlib` stream: the same synchronous call that
 * `zlib.deflateRawSync` makes, kept open so that the window survives across
 * messages (context takeover) without an event-loop turn per message.
 */
interface NativeZlib {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

/** A native handle and its result slots: `[availOut, availIn]` after each call. */
interface Native {
  handle: NativeZlib;
  state: Uint32Array;
}

function nativeOf(stream: unknown): Native {
  const s = stream as { _handle?: NativeZlib; _writeState?: Uint32Array };
  if (
    typeof s._handle?.writeSync !== "function" ||
    !(s._writeState instanceof Uint32Array)
  ) {
    throw new TypeError(
      "node:zlib does not expose synchronous handles on this runtime",
    );
  }
  return { handle: s._handle, state: s._writeState };
}

/**
 * Idle native handles by parameters, shared by every connection of the process.
 * A handle holds no context once reset, and compressing or inflating one message
 * is a synchronous call, so without context takeover one handle serves every
 * connection in turn instead of each keeping its own (about 200 KiB for a
 * compressor).
 */
const idle = new Map<string, Native[]>();
/** Idle handles kept per parameter set; more are closed when released. */
const MAX_IDLE = 4;

/** A handle from the pool, or a new one. */
function acquire(key: string, make: () => unknown): Native {
  return idle.get(key)?.pop() ?? nativeOf(make());
}

/** Resets a handle and returns it to the pool (or closes it when the pool is full). */
function release(key: string, native: Native, broken: boolean): void {
  let list = idle.get(key);
  if (list === undefined) idle.set(key, list = []);
  if (broken || list.length >= MAX_IDLE) {
    native.handle.close();
    return;
  }
  native.handle.reset();
  native.handle.onerror = ignoreError;
  list.push(native);
}

function ignoreError(): void {}

/** The stream's own output buffer is never used: the calls write into ours. */
const CHUNK_SIZE = constants.Z_MIN_CHUNK;

/**
 * Options of {@linkcode zlibEngine}.
 *
 * @example
 * ```ts
 * import { type ZlibEngineOptions } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ZlibEngineOptions = { memLevel: 4 };
 * assertEquals(options.memLevel, 4);
 * ```
 */
export interface ZlibEngineOptions {
  /**
   * zlib's memLevel, 1-9 (default 8): the size of the compressor's hash chains
   * and block buffer. On Deno 2.9 it hardly changes memory (about 220 KiB per
   * compressor at 15 bits, 215 KiB at memLevel 1); the window does: a 12-bit
   * window (`serverMaxWindowBits` or `clientMaxWindowBits` in the deflate
   * options) takes about 170 KiB, 9 bits about 155 KiB.
   */
  memLevel?: number;
}

/**
 * The `node:zlib` engine: synchronous calls on native zlib handles, a settable
 * compression level and memory level, and windows of 8 to 15 bits (so it can
 * accept `server_max_window_bits` below 15, and offer `client_max_window_bits`).
 * With context takeover each direction of a connection keeps its own handle;
 * without it, a handle goes back to a pool shared by all connections after each
 * message, so idle connections hold none.
 *
 * When to choose which engine (Deno 2.9.6, 4 KiB JSON messages, each different
 * from the last; throughput from `bench/harness/deflate_echo.ts` as echo round trips per
 * CPU-second, memory from `bench/harness/deflate_memory.ts` with 1,000 connections, on
 * top of an uncompressed connection's 39 KiB; rounded):
 *
 * | engine | takeover | round trips/s | × `ws` | memory per connection |
 * | --- | --- | ---: | ---: | ---: |
 * | `CompressionStream` | yes | 5,800 | 1.0 | +329 KiB |
 * | `CompressionStream` | no (on pooled zlib handles) | 10,600 ¹ | 2.4 ¹ | +11 KiB ¹ |
 * | zlib, level 6 | yes | 6,800 | 1.1 | +246 KiB |
 * | zlib, level 6 | no | 12,500 | 2.1 | +9 KiB |
 * | zlib, level 1 | yes | 23,800 | 4.0 | +246 KiB |
 *
 * (`ws` with its defaults: 5,900; uncompressed: 36,600. ¹ 2026-12-01 on a busy
 * machine, where `ws` made 4,500 and zlib without takeover 10,500, +12 KiB.) At level 6 DEFLATE
 * itself takes most of the time (about 120 of the 150 µs of CPU per round trip
 * with this engine), so the level and the takeover mode matter far more than the
 * engine; only this engine can lower the level (level 1 frames are about twice as
 * large). Without `level` in the deflate options, a connection compresses its
 * own messages at level 3 where they go without context takeover, where 6
 * would make them only 3-5 % smaller. Choose this engine for speed, for levels
 * other than 6, for windows below 15 bits, and for many connections without
 * context takeover. Choose the default `CompressionStream` engine to depend on
 * web standards only.
 *
 * @param options The memory level.
 * @returns The engine.
 * @throws {RangeError} For a memory level out of range.
 *
 * @example Round trip with a 9-bit window at level 1
 * ```ts
 * import { InflateOutput, zlibEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const engine = zlibEngine({ memLevel: 4 });
 * const deflater = engine.compressor({ level: 1, windowBits: 9 });
 * const inflater = engine.decompressor({ windowBits: 9 });
 * const packed = await deflater.compress(new TextEncoder().encode("Hello, Hello"));
 * const out = new InflateOutput();
 * out.start(100);
 * await inflater.decompress(packed.subarray(0, packed.length - 4), true, out);
 * assertEquals(new TextDecoder().decode(out.data), "Hello, Hello");
 * ```
 */
export function zlibEngine(options: ZlibEngineOptions = {}): DeflateEngine {
  const memLevel = options.memLevel ?? 8;
  if (!(Number.isInteger(memLevel) && memLevel >= 1 && memLevel <= 9)) {
    throw new RangeError(`memLevel must be 1 to 9, got ${memLevel}`);
  }
  return {
    name: "zlib",
    limitsWindow: true,
    compressor: (o) => new ZlibCompressor(o, memLevel),
    decompressor: (o) =>
      new ZlibDecompressor(
        o.windowBits,
        o.noContextTakeover ? null : new InflateWindow(o.windowBits),
      ),
    isValidUtf8: checkUtf8,
  };
}

class ZlibCompressor implements Compressor {
  #key: string;
  #make: () => unknown;
  #native: Native | null = null;
  #out: Uint8Array = EMPTY;
  #error: string | null = null;
  #onerror = (message: string): void => {
    this.#error = message;
  };

  constructor(options: CompressorOptions, memLevel: number) {
    // zlib turns a raw 8-bit window into 9 bits, whose longest match distance
    // (512 - 262 bytes) still fits the peer's 256-byte window.
    const windowBits = Math.max(9, options.windowBits);
    const { level } = options;
    this.#key = `deflate ${level} ${windowBits} ${memLevel}`;
    this.#make = () =>
      createDeflateRaw({ level, windowBits, memLevel, chunkSize: CHUNK_SIZE });
  }

  compress(data: Uint8Array): Uint8Array {
    if (this.#native === null) {
      this.#native = acquire(this.#key, this.#make);
      this.#native.handle.onerror = this.#onerror;
    }
    const { handle, state } = this.#native;
    let out = this.#out.length > 0 ? this.#out : new Uint8Array(INITIAL_OUTPUT);
    let produced = 0;
    let inOffset = 0;
    let inLength = data.length;
    for (;;) {
      const room = out.length - produced;
      handle.writeSync(
        SYNC_FLUSH,
        data,
        inOffset,
        inLength,
        out,
        produced,
        room,
      );
      if (this.#error !== null) {
        const message = this.#error;
        this.#release();
        throw new TypeError(`zlib: ${message}`);
      }
      produced += room - state[0];
      inOffset += inLength - state[1];
      inLength = state[1];
      if (state[0] !== 0) break;
      const next = new Uint8Array(out.length * 2);
      next.set(out.subarray(0, produced));
      out = next;
    }
    this.#out = out.length > KEEP_OUTPUT ? EMPTY : out;
    // zlib flushes nothing twice: an empty message after a flush still needs
    // its empty stored block.
    return produced === 0 ? EMPTY_STORED_BLOCK : out.subarray(0, produced);
  }

  /** Gives the handle back: the next message starts afresh, on any idle handle. */
  #release(): void {
    if (this.#native === null) return;
    release(this.#key, this.#native, this.#error !== null);
    this.#native = null;
    this.#error = null;
  }

  reset(): void {
    this.#release();
  }

  close(): void {
    this.#release();
    this.#out = EMPTY;
  }
}

/** Messages up to this size are inflated in one call, joined to their trailer. */
const MAX_JOINED = 64 * 1024;
let joined: Uint8Array = EMPTY;
/** Where a preset window is inflated to (and dropped). */
let scratch: Uint8Array = EMPTY;
/**
 * DEFLATE streams one message may hold (a new one after each final block):
 * with context takeover each begins by inflating the window again, so a
 * message of empty final blocks is refused instead.
 */
const MAX_STREAMS = 16;

/**
 * A `node:zlib` inflater that starts from `window` (the output so far of a
 * direction with context takeover) and keeps it up to date: what the default
 * engine switches to when its peer ends a stream with a final block.
 *
 * @param windowBits The peer's window.
 * @param window The peer's output so far.
 * @returns The inflater.
 *
 * @example
 * ```ts
 * import { deflateRawSync } from "node:zlib";
 * import { InflateOutput } from "./inflate_output.ts";
 * import { InflateWindow } from "./inflate_window.ts";
 * import { zlibInflaterFrom } from "./zlib.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const window = new InflateWindow(15);
 * window.push(new TextEncoder().encode("Hello, "));
 * const out = new InflateOutput();
 * out.start(100);
 * zlibInflaterFrom(15, window).decompress(deflateRawSync("world"), true, out);
 * assertEquals(new TextDecoder().decode(out.data), "world");
 * ```
 */
export function zlibInflaterFrom(
  windowBits: number,
  window: InflateWindow,
): Decompressor {
  return new ZlibDecompressor(windowBits, window);
}

class ZlibDecompressor implements Decompressor {
  #key: string;
  #windowBits: number;
  /** The peer's recent output, with context takeover. */
  #window: InflateWindow | null;
  #native: Native | null = null;
  #error: string | null = null;
  #probe = new Uint8Array(1);
  #ended = false;
  #streams = 0;
  #onerror = (message: string): void => {
    this.#error = message;
  };

  constructor(windowBits: number, window: InflateWindow | null) {
    this.#windowBits = windowBits;
    this.#window = window;
    this.#key = `inflate ${windowBits}`;
  }

  #make = (): unknown =>
    createInflateRaw({ windowBits: this.#windowBits, chunkSize: CHUNK_SIZE });

  /**
   * Starts a DEFLATE stream: with context takeover, with the peer's window
   * (and `sofar`, this message's output until now) as preset dictionary.
   */
  #open(sofar: Uint8Array): void {
    this.#native = acquire(this.#key, this.#make);
    this.#native.handle.onerror = this.#onerror;
    const window = this.#window;
    if (window !== null && window.length + sofar.length > 0) {
      this.#prime(window.dictionary(sofar));
    }
  }

  /**
   * Presets `dictionary` as the window by inflating it from one stored block,
   * whose output is dropped: raw inflating on `node:zlib` ignores the
   * `dictionary` option on Deno 2.9, and this works on every runtime.
   */
  #prime(dictionary: Uint8Array): void {
    const { handle, state } = this.#native!;
    const n = dictionary.length;
    const header = new Uint8Array([
      0,
      n & 0xff,
      n >> 8,
      ~n & 0xff,
      ~n >> 8 & 0xff,
    ]);
    if (scratch.length < n) scratch = new Uint8Array(1 << 15);
    for (const input of [header, dictionary]) {
      handle.writeSync(SYNC_FLUSH, input, 0, input.length, scratch, 0, n);
      this.#check();
      if (state[1] !== 0) throw new TypeError("zlib: the window was refused");
    }
  }

  decompress(data: Uint8Array, fin: boolean, out: InflateOutput): void {
    if (this.#native === null) this.#open(EMPTY);
    try {
      if (fin && data.length <= MAX_JOINED) {
        // One call for the message and its trailer, through a shared buffer.
        const n = data.length + SYNC_TRAILER.length;
        if (joined.length < n) joined = new Uint8Array(MAX_JOINED + 4);
        joined.set(data);
        joined.set(SYNC_TRAILER, data.length);
        this.#feed(joined, n, out, data.length);
      } else {
        this.#feed(data, data.length, out, fin ? data.length : Infinity);
        if (fin && !this.#ended) this.#feed(SYNC_TRAILER, 4, out, 0);
      }
    } catch (err) {
      this.reset();
      throw err;
    }
    if (!fin) return;
    this.#window?.push(out.data);
    this.#streams = 0;
    // A final block ended the peer's stream: its next message starts a new one.
    if (this.#ended) this.#close();
  }

  /**
   * Inflates `input[0..length)`, whose bytes from `trailerAt` on (`Infinity`:
   * none) are the sync trailer. Where a final block ends the stream, an empty
   * rest (the trailer, or the `00` of RFC 7692 §7.2.3.4 and the trailer) ends
   * the message; any other rest begins a new stream.
   */
  #feed(
    input: Uint8Array,
    length: number,
    out: InflateOutput,
    trailerAt: number,
  ): void {
    const probe = this.#probe;
    let inOffset = 0;
    let inLength = length;
    for (;;) {
      const { handle, state } = this.#native!;
      // With the output full, inflate into one spare byte: only a byte that
      // really comes out needs room, so a message may fill the limit exactly.
      const full = out.free === 0;
      const room = full ? 1 : out.free;
      handle.writeSync(
        SYNC_FLUSH,
        input,
        inOffset,
        inLength,
        full ? probe : out.buffer,
        full ? 0 : out.length,
        room,
      );
      this.#check();
      const produced = room - state[0];
      if (full && produced === 1) {
        out.grow();
        out.buffer[out.length] = probe[0];
        out.commit(1);
      } else if (!full) {
        out.commit(produced);
      }
      inOffset += inLength - state[1];
      inLength = state[1];
      if (state[0] === 0) continue;
      if (inLength === 0) return;
      // Room left but input refused: the stream ended with a final block.
      if (
        inOffset === trailerAt ||
        (inOffset === trailerAt - 1 && input[inOffset] === 0)
      ) {
        this.#ended = true;
        return;
      }
      this.#restart(out);
    }
  }

  /** Begins a new stream where a final block ended the last one, mid-message. */
  #restart(out: InflateOutput): void {
    if (++this.#streams >= MAX_STREAMS) {
      throw new WebSocketError(
        "invalid_compressed_data",
        `Compressed message holds more than ${MAX_STREAMS} DEFLATE streams`,
      );
    }
    this.#close();
    this.#open(out.data);
  }

  #check(): void {
    if (this.#error === null) return;
    throw new WebSocketError(
      "invalid_compressed_data",
      `Compressed message does not inflate: ${this.#error}`,
    );
  }

  /** Gives the handle back (closed if it failed). */
  #close(): void {
    const native = this.#native;
    if (native !== null) {
      release(this.#key, native, this.#error !== null);
    }
    this.#native = null;
    this.#error = null;
    this.#ended = false;
  }

  /** Forgets the context: the next message starts afresh. */
  reset(): void {
    this.#close();
    this.#window?.clear();
    this.#streams = 0;
  }

  close(): void {
    this.reset();
  }
}
