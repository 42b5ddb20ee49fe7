/** The buffer pool: reuse by size, and what it refuses to keep. */

import {
  assert,
  assertEquals,
  assertExists,
  assertNotStrictEquals,
  assertStrictEquals,
} from "@std/assert";
import { simdBlock } from "../../src/codec/simd_mask.ts";
import {
  giveBuffer,
  pooledSize,
  takeBuffer,
} from "../../src/io/buffer_pool.ts";

Deno.test("buffer pool: a buffer given back is taken again at its size only", () => {
  const a = takeBuffer(3000);
  assertEquals(a.length, 3000);
  giveBuffer(a);
  const other = takeBuffer(3001);
  assertNotStrictEquals(other, a);
  assert(takeBuffer(3000) === a, "reused");
  assertNotStrictEquals(takeBuffer(3000), a, "taken once");
});

Deno.test("buffer pool: views, and buffers over 512 KiB, are not kept", () => {
  const big = new Uint8Array(600 * 1024);
  giveBuffer(big);
  assertNotStrictEquals(takeBuffer(big.length), big);
  const whole = new Uint8Array(2 * 777);
  const view = whole.subarray(777);
  giveBuffer(view);
  giveBuffer(whole.subarray(0, 777));
  assertNotStrictEquals(takeBuffer(777).buffer, whole.buffer);
});

Deno.test("buffer pool: pooledSize rounds up to a power of two from 4 KiB", () => {
  assertEquals([1, 4096, 4097, 16_388, 262_158].map(pooledSize), [
    4096,
    4096,
    8192,
    32_768,
    524_288,
  ]);
});

Deno.test("buffer pool: at most 16 MiB is kept over all sizes", () => {
  const size = 256 * 1024;
  const given = Array.from({ length: 80 }, (_, i) => new Uint8Array(size + i));
  given.forEach(giveBuffer);
  const back = given.filter((buf) => takeBuffer(buf.length) === buf).length;
  assert(back > 0 && back <= 64, `${back} of 80 kept`);
});

Deno.test("buffer pool: SIMD buffers come from the SIMD block, only to callers that ask, and are reused", () => {
  assertExists(simdBlock(), "Deno has WebAssembly SIMD");
  const block = simdBlock()!;
  const a = takeBuffer(8192, true);
  assertEquals(a.length, 8192);
  assertStrictEquals(a.buffer, block.bytes.buffer);
  assertEquals(a.byteOffset % 16, 0, "16-byte aligned");
  const b = takeBuffer(8192, true);
  assert(
    b.byteOffset >= a.byteOffset + 8192 || b.byteOffset + 8192 <= a.byteOffset,
    "disjoint",
  );
  giveBuffer(a);
  const plain = takeBuffer(8192);
  assert(
    plain.buffer !== block.bytes.buffer,
    "never to a caller that may transfer it",
  );
  assertStrictEquals(takeBuffer(8192, true), a, "reused");
  giveBuffer(b);
  giveBuffer(a);
});
