/**
 * The pluggable DEFLATE engine behind permessage-deflate: what a compressor and a
 * decompressor must do, and the factory that makes them for one connection.
 *
 * @module
 */

import type { InflateOutput } from "./inflate_output.ts";

/**
 * What an engine is asked for when it makes a compressor: one per connection, for
 * the direction this side sends in.
 *
 * @example
 * ```ts
 * import type { CompressorOptions } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const options: CompressorOptions = { level: 6, windowBits: 15 };
 * assertEquals(options.windowBits, 15);
 * ```
 */
export interface CompressorOptions {
  /** The compression level, 0 (store) to 9 (smallest); engines may ignore it. */
  level: number;
  /** The largest LZ77 window the peer agreed to, 8 to 15 bits. */
  windowBits: number;
  /**
   * Whether the compressor is reset after every message (no context takeover),
   * so that it may keep no state between messages. Default `false`.
   */
  noContextTakeover?: boolean;
}

/**
 * Compresses the messages of one direction of one connection, keeping the LZ77
 * window between calls (context takeover) until {@linkcode Compressor.reset}.
 *
 * @example A compressor that stores (level 0), for illustration
 * ```ts
 * import type { Compressor } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const store: Compressor = {
 *   compress(data) {
 *     // One non-final stored block, then the sync marker.
 *     const out = new Uint8Array(data.length + 10);
 *     out.set([0x00, data.length & 0xff, data.length >> 8, ~data.length & 0xff, (~data.length >> 8) & 0xff]);
 *     out.set(data, 5);
 *     out.set([0x00, 0x00, 0x00, 0xff, 0xff], 5 + data.length);
 *     return out;
 *   },
 *   reset() {},
 *   close() {},
 * };
 * assertEquals((store.compress(new Uint8Array([1])) as Uint8Array).length, 11);
 * ```
 */
export interface Compressor {
  /**
   * Compresses the next piece of a message and flushes it to a byte boundary
   * (`Z_SYNC_FLUSH`), so that the output ends with `00 00 ff ff` unless it is
   * empty. It must never emit a final (BFINAL) block.
   *
   * @param data The uncompressed bytes; not kept after the call settles.
   * @returns The compressed bytes, valid until the next call.
   */
  compress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Forgets the window: the next message starts a fresh context. */
  reset(): void;
  /** Releases the engine's resources; the compressor is not used again. */
  close(): void;
}

/**
 * Decompresses the messages of one direction of one connection, keeping the
 * window between messages until {@linkcode Decompressor.reset}.
 *
 * @example Inflating RFC 7692's "Hello" with the default engine
 * ```ts
 * import { compressionStreamEngine, InflateOutput } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const inflater = compressionStreamEngine().decompressor({ windowBits: 15 });
 * const out = new InflateOutput();
 * out.start(1024);
 * await inflater.decompress(new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), true, out);
 * assertEquals(new TextDecoder().decode(out.data), "Hello");
 * inflater.close();
 * ```
 */
export interface Decompressor {
  /**
   * Inflates the next piece of a message into `out`. On the last piece (`fin`),
   * the decompressor appends the `00 00 ff ff` that the sender removed. A final
   * (BFINAL) block ends the message and the window: the next message starts a
   * fresh context.
   *
   * @param data The compressed bytes; not kept after the call settles.
   * @param fin Whether this is the last piece of the message.
   * @param out Where the output goes; it throws when its limit is exceeded.
   * @throws {WebSocketError} `invalid_compressed_data` when the data is not DEFLATE,
   * or the error of `out` (`message_too_big`, `buffer_too_small`).
   */
  decompress(
    data: Uint8Array,
    fin: boolean,
    out: InflateOutput,
  ): void | Promise<void>;
  /** Forgets the window: the next message starts a fresh context. */
  reset(): void;
  /** Releases the engine's resources; the decompressor is not used again. */
  close(): void;
}

/**
 * Makes compressors and decompressors: the default one runs on
 * `CompressionStream`, another on `node:zlib`, and any other engine (a WASM or
 * native build) can be plugged in through `DeflateOptions.engine`.
 *
 * @example
 * ```ts
 * import { compressionStreamEngine, type DeflateEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const engine: DeflateEngine = compressionStreamEngine();
 * assertEquals(engine.limitsWindow, false);
 * ```
 */
export interface DeflateEngine {
  /** A short name for logs and benchmarks. */
  readonly name: string;
  /**
   * Whether the compressor can keep its window below 15 bits. Negotiation declines
   * an offer that asks for a smaller server (or client) window when it cannot.
   */
  readonly limitsWindow: boolean;
  /** Makes the compressor of one connection. */
  compressor(options: CompressorOptions): Compressor;
  /**
   * Makes the decompressor of one connection, for a peer window of `windowBits`;
   * with `noContextTakeover` it is reset after every message.
   */
  decompressor(
    options: { windowBits: number; noContextTakeover?: boolean },
  ): Decompressor;
  /**
   * Checks inflated text as UTF-8, when the engine has a faster check than the
   * library's own at hand (it must be exactly as strict).
   */
  readonly isValidUtf8?: (bytes: Uint8Array) => boolean;
}

/**
 * The four bytes a sync flush ends with, removed before sending (RFC 7692 §7.2.1).
 *
 * @example
 * ```ts
 * import { SYNC_TRAILER } from "./compressor.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...SYNC_TRAILER], [0x00, 0x00, 0xff, 0xff]);
 * ```
 */
export const SYNC_TRAILER: Uint8Array = new Uint8Array([
  0x00,
  0x00,
  0xff,
  0xff,
]);

/**
 * Tells whether compressed bytes end with the sync-flush marker `00 00 ff ff`.
 *
 * @param bytes The compressed bytes.
 * @returns `true` when the last four bytes are `00 00 ff ff`.
 *
 * @example
 * ```ts
 * import { endsWithSyncTrailer } from "./compressor.ts";
 * import { assert } from "@std/assert";
 *
 * assert(endsWithSyncTrailer(new Uint8Array([0xf2, 0x00, 0x00, 0xff, 0xff])));
 * assert(!endsWithSyncTrailer(new Uint8Array([0x00, 0xff])));
 * ```
 */
export function endsWithSyncTrailer(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 1] === 0xff && bytes[n - 2] === 0xff &&
    bytes[n - 3] === 0x00 && bytes[n - 4] === 0x00;
}
