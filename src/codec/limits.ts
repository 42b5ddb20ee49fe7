/**
 * Size presets for the read limit and the chunk size of a {@linkcode Conn}.
 *
 * @module
 */

/**
 * Presets for the largest message a connection accepts, in bytes.
 *
 * A larger message is refused with close code 1009 before it is buffered.
 *
 * @example
 * ```ts
 * import { ReadLimit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ReadLimit.Standard, 1024 * 1024);
 * ```
 */
export const ReadLimit = {
  /** 64 KiB: events, commands and small JSON updates. */
  Small: 64 * 1024,
  /** 1 MiB: typical JSON APIs and state syncs; the default. */
  Standard: 1024 * 1024,
  /** 16 MiB: uploads, files and dense data arrays. */
  Large: 16 * 1024 * 1024,
} as const;

/**
 * Presets for the chunk size: the read buffer, the write scratchpad and the default
 * fragment size of streamed messages, in bytes.
 *
 * @example
 * ```ts
 * import { ChunkSize } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ChunkSize.LowMemory, 4096);
 * ```
 */
export const ChunkSize = {
  /** 4 KiB: the smallest footprint per connection; the default. */
  LowMemory: 4 * 1024,
  /** 8 KiB: a middle ground for medium-sized text and JSON. */
  Balanced: 8 * 1024,
  /** 32 KiB: bulk transfers and compressed streams (the DEFLATE window). */
  Streaming: 32 * 1024,
} as const;
