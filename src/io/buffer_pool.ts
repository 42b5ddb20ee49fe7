/**
 * Chunk-sized buffers shared by the connections of a process: a connection
 * takes one for a burst of reads or writes and gives it back when it goes
 * quiet, so idle connections hold none and busy ones allocate none.
 *
 * @module
 */

import { existingSimdBlock, simdBlock } from "../codec/simd_mask.ts";

/**
 * Buffers kept per size: enough for the connections busy at one moment. Each
 * dropped one fragments the allocator among the connections' long-lived native
 * memory: with 64 kept, 10,000 connections echoing once (200 at a time) kept
 * about 4 KiB more resident each than with 256 (measured).
 */
const KEPT_PER_SIZE = 256;
/** Bytes kept per size, at most (but two buffers whatever their size). */
const KEPT_BYTES_PER_SIZE = 4 << 20;
/** Buffers larger than this are not kept: they would pin too much. */
const LARGEST_KEPT = 512 * 1024;
/** Bytes kept over all sizes, at most: connections may use many chunk sizes. */
const KEPT_BYTES = 16 << 20;
let keptBytes = 0;

const free = new Map<number, Uint8Array[]>();
/**
 * Buffers carved from the SIMD block, free per size. They are never dropped
 * (the block is their bound) and never given to a caller that did not ask for
 * one: they cannot be transferred, as a BYOB read or a byte stream would.
 */
const blockFree = new Map<number, Uint8Array[]>();
/** Where the SIMD block's unused part starts. */
let blockTop = 0;
/**
 * The last view of each buffer's first bytes, by the buffer's memory: equal-sized
 * writes from a pooled scratchpad reuse it whichever connection holds it. Weak,
 * so a view never keeps its buffer alive.
 */
const views = new WeakMap<ArrayBufferLike, Uint8Array>();

/**
 * A buffer of exactly `size` bytes, from the pool when one is free. Its bytes
 * are whatever its last user left. With `simd`, from the SIMD block where it
 * has room (masked four times faster there): only for a caller that never
 * transfers the buffer (reads straight from a `Deno.Conn`, say).
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
export function takeBuffer(size: number, simd = false): Uint8Array {
  if (simd) {
    const carved = blockFree.get(size)?.pop() ?? carve(size);
    if (carved !== null) return carved;
  }
  const buf = free.get(size)?.pop();
  if (buf === undefined) return new Uint8Array(size);
  keptBytes -= size;
  return buf;
}

/** `size` bytes of the SIMD block not yet handed out, or `null`. */
function carve(size: number): Uint8Array | null {
  if (size > LARGEST_KEPT) return null;
  const block = simdBlock();
  const at = (blockTop + 15) & ~15;
  if (block === null || at + size > block.bytes.length) return null;
  blockTop = at + size;
  return block.bytes.subarray(at, at + size);
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
  if (buf.buffer === existingSimdBlock()?.bytes.buffer) {
    let list = blockFree.get(size);
    if (list === undefined) blockFree.set(size, list = []);
    list.push(buf);
    return;
  }
  if (size > LARGEST_KEPT || buf.byteOffset !== 0) return;
  if (keptBytes + size > KEPT_BYTES) return;
  if (buf.buffer.byteLength !== size) return;
  let list = free.get(size);
  if (list === undefined) free.set(size, list = []);
  const kept = Math.min(KEPT_PER_SIZE, Math.max(2, KEPT_BYTES_PER_SIZE / size));
  if (list.length < kept) {
    list.push(buf);
    keptBytes += size;
  }
}

/**
 * The power of two at or above `size` (from 4 KiB): buffers of varying sizes
 * taken at this size are reused across sizes.
 *
 * @example
 * ```ts
 * import { pooledSize } from "./buffer_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(pooledSize(16_388), 32_768);
 * ```
 */
export function pooledSize(size: number): number {
  let n = 4096;
  while (n < size) n *= 2;
  return n;
}

/**
 * `buf[0..length)`, reusing the last such view of the same memory when the
 * length repeats: a run of equal-sized writes allocates no view.
 *
 * @example
 * ```ts
 * import { viewOf } from "./buffer_pool.ts";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const buf = new Uint8Array(4096);
 * assertStrictEquals(viewOf(buf, 7), viewOf(buf, 7));
 * ```
 */
export function viewOf(buf: Uint8Array, length: number): Uint8Array {
  if (length === buf.length) return buf;
  const last = views.get(buf.buffer);
  if (
    last !== undefined && last.length === length &&
    last.byteOffset === buf.byteOffset
  ) {
    return last;
  }
  const view = buf.subarray(0, length);
  views.set(buf.buffer, view);
  return view;
}
