/** The buffer pool: reuse by size, and what it refuses to keep. */

import { assert, assertEquals, assertNotStrictEquals } from "@std/assert";
import { giveBuffer, takeBuffer } from "../../src/io/buffer_pool.ts";

Deno.test("buffer pool: a buffer given back is taken again at its size only", () => {
  const a = takeBuffer(3000);
  assertEquals(a.length, 3000);
  giveBuffer(a);
  const other = takeBuffer(3001);
  assertNotStrictEquals(other, a);
  assert(takeBuffer(3000) === a, "reused");
  assertNotStrictEquals(takeBuffer(3000), a, "taken once");
});

Deno.test("buffer pool: views, and buffers over 256 KiB, are not kept", () => {
  const big = new Uint8Array(300 * 1024);
  giveBuffer(big);
  assertNotStrictEquals(takeBuffer(big.length), big);
  const whole = new Uint8Array(2 * 777);
  const view = whole.subarray(777);
  giveBuffer(view);
  giveBuffer(whole.subarray(0, 777));
  assertNotStrictEquals(takeBuffer(777).buffer, whole.buffer);
});
