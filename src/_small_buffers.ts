/**
 * Small per-connection buffers carved from shared slabs: a typed array with
 * an `ArrayBuffer` of its own costs about 200 bytes of heap and 300 more of
 * native memory whatever its size (measured, Deno 2.9), a view into a slab
 * about 110 bytes. An idle connection waits in a read into such a buffer.
 *
 * A slab is freed once none of its views is reachable; until then a piece of
 * a closed connection is not reused. Only for buffers read into directly: a
 * BYOB stream read would transfer (detach) the whole slab.
 *
 * @module
 */

/** The slab size: a connection that outlives its neighbours pins at most this. */
const SLAB_BYTES = 4096;
/** Larger buffers get an `ArrayBuffer` of their own. */
const LARGEST_SHARED = 256;

let slab: ArrayBuffer | null = null;
let used = SLAB_BYTES;

/**
 * A zeroed buffer of `size` bytes: a view into a shared slab when it is small.
 *
 * @example
 * ```ts
 * import { smallBuffer } from "./_small_buffers.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const a = smallBuffer(128), b = smallBuffer(128);
 * assertEquals([a.length, b.length], [128, 128]);
 * a.fill(1);
 * assertEquals(b[0], 0); // views never overlap
 * ```
 */
export function smallBuffer(size: number): Uint8Array {
  if (size > LARGEST_SHARED || size === 0) return new Uint8Array(size);
  // Pieces start on 8-byte boundaries, so that word-wise masking stays aligned.
  const step = (size + 7) & ~7;
  if (slab === null || used + step > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const view = new Uint8Array(slab, used, size);
  used += step;
  return view;
}
