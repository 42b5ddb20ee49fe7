/**
 * The `node:zlib` DEFLATE engine: synchronous, with a settable level, window
 * (8-15 bits) and memory level.
 *
 * @module
 */

import { constants, createDeflateRaw, createInflateRaw } from "node:zlib";
import { WebSocketError } from "../errors.ts";
import {
  type Compressor,
  type CompressorOptions,
  type Decompressor,
  type DeflateEngine,
  SYNC_TRAILER,
} from "./compressor.ts";
import type { InflateOutput } from "./inflate_output.ts";

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

/** Options of {@linkcode zlibEngine}. */
export interface ZlibEngineOptions {
  /**
   * zlib's memLevel, 1-9 (default 8): the compressor's hash table takes
   * 2^(memLevel + 9) bytes, so lower levels save memory per connection at some
   * cost in ratio and speed.
   */
  memLevel?: number;
}

/**
 * The `node:zlib` engine: synchronous calls on one long-lived zlib stream per
 * direction, a settable compression level and memory level, and windows of 8 to
 * 15 bits (so it can accept `server_max_window_bits` below 15, and offer
 * `client_max_window_bits`).
 *
 * When to choose which (measured with `bench/deflate_bench.ts` on a 4 KiB JSON
 * message, Deno 2.9.6): this engine compresses at level 6 about as fast as
 * `CompressionStream` and inflates about three times faster, runs without a task
 * per message, and at level 1 compresses seven times faster for a somewhat larger
 * output. Choose it for throughput and latency, for windows below 15 bits, or for
 * any level but the default. Choose the default engine for portability (web
 * standards only) and for many mostly idle connections without context takeover:
 * it releases its streams between messages, where this engine keeps its zlib
 * state (about 250 KiB per connection) to reset it.
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
    decompressor: (o) => new ZlibDecompressor(o.windowBits),
  };
}

class ZlibCompressor implements Compressor {
  #native: Native;
  #out: Uint8Array = EMPTY;
  #error: string | null = null;

  constructor(options: CompressorOptions, memLevel: number) {
    this.#native = nativeOf(createDeflateRaw({
      level: options.level,
      // zlib turns a raw 8-bit window into 9 bits, whose longest match distance
      // (512 - 262 bytes) still fits the peer's 256-byte window.
      windowBits: Math.max(9, options.windowBits),
      memLevel,
    }));
    this.#native.handle.onerror = (message) => this.#error = message;
  }

  compress(data: Uint8Array): Uint8Array {
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
      if (this.#error !== null) throw new TypeError(`zlib: ${this.#error}`);
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

  reset(): void {
    this.#native.handle.reset();
  }

  close(): void {
    this.#native.handle.close();
    this.#out = EMPTY;
  }
}

class ZlibDecompressor implements Decompressor {
  #native: Native;
  #error: string | null = null;
  #probe = new Uint8Array(1);
  #ended = false;

  constructor(windowBits: number) {
    this.#native = nativeOf(createInflateRaw({ windowBits }));
    this.#native.handle.onerror = (message) => this.#error = message;
  }

  decompress(data: Uint8Array, fin: boolean, out: InflateOutput): void {
    try {
      this.#feed(data, out, false);
      if (fin && !this.#ended) this.#feed(SYNC_TRAILER, out, true);
    } catch (err) {
      this.reset();
      throw err;
    }
    // A final block ended the peer's stream: its next message starts afresh.
    if (this.#ended) this.reset();
  }

  #feed(input: Uint8Array, out: InflateOutput, trailer: boolean): void {
    const { handle, state } = this.#native;
    const probe = this.#probe;
    let inOffset = 0;
    let inLength = input.length;
    for (;;) {
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
      if (trailer) {
        this.#ended = true;
        return;
      }
      throw new WebSocketError(
        "invalid_compressed_data",
        "Compressed message has data after its final block",
      );
    }
  }

  #check(): void {
    if (this.#error === null) return;
    const message = this.#error;
    this.#error = null;
    throw new WebSocketError(
      "invalid_compressed_data",
      `Compressed message does not inflate: ${message}`,
    );
  }

  reset(): void {
    this.#native.handle.reset();
    this.#error = null;
    this.#ended = false;
  }

  close(): void {
    this.#native.handle.close();
  }
}
