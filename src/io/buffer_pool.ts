/**
 * Chunk-sized buffers shared by the connections of a process: a connection
 * takes one for a burst of reads or writes and gives it back when it goes
 * quiet, so idle connections hold none and busy ones allocate none.
 *
 * @module
 */

/** Buffers kept per size: enough for the connections busy at one moment. */
const KEPT_PER_SIZE = 64;
/** Buffers larger than this are not kept: they would pin too much. */
const LARGEST_KEPT = 256 * 1024;

const free = new Map<number, Uint8Array[]>();

/**
 * A buffer of exactly `size` bytes, from the pool when one is free. Its bytes
 * are whatever its last user left.
 *
 * @example
 * ```ts
 * import { giveBuffer, takeBuffer } from "./buffer_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const buf = takeBuffer(4096);
 * giveBuffer(buf);
 * assertEquals(takeBuffer(4096), buf); // the same one, not a new allocation
 * ```
 */
export function takeBuffer(size: number): Uint8Array {
  return free.get(size)?.pop() ?? new Uint8Array(size);
}

/**
 * Gives a buffer back for another connection to use. The caller must keep no
 * reference to it, nor views of it.
 *
 * @example
 * ```ts
 * import { giveBuffer, takeBuffer } from "./buffer_pool.ts";
 *
 * giveBuffer(takeBuffer(8192));
 * ```
 */
export function giveBuffer(buf: Uint8Array): void {
  const size = buf.length;
  if (size > LARGEST_KEPT || buf.byteOffset !== 0) return;
  if (buf.buffer.byteLength !== size) return;
  let list = free.get(size);
  if (list === undefined) free.set(size, list = []);
  if (list.length < KEPT_PER_SIZE) list.push(buf);
}
