import { assert, assertEquals } from "@std/assert";
import { smallBuffer } from "../src/_small_buffers.ts";

Deno.test("smallBuffer: small buffers are zeroed, disjoint views on 8-byte boundaries", () => {
  const views = Array.from({ length: 100 }, (_, i) => smallBuffer(1 + i % 128));
  for (const [i, v] of views.entries()) {
    assertEquals(v.length, 1 + i % 128);
    assertEquals(v.byteOffset % 8, 0);
    assert(v.every((b) => b === 0));
    v.fill(0xff);
  }
  // Writing each filled only its own bytes: a later view starts zeroed.
  assert(smallBuffer(16).every((b) => b === 0));
  const shared = views.filter((v) => v.buffer === views[0].buffer);
  assert(shared.length > 1, "small buffers share a slab");
});

Deno.test("smallBuffer: large or empty buffers get an ArrayBuffer of their own", () => {
  const big = smallBuffer(4096);
  assertEquals([big.length, big.byteOffset, big.buffer.byteLength], [
    4096,
    0,
    4096,
  ]);
  assertEquals(smallBuffer(0).length, 0);
});
