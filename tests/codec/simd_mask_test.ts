/** SIMD masking: the WebAssembly block, and maskInPlace() on bytes in it. */

import { assert, assertEquals, assertExists } from "@std/assert";
import { maskInPlace } from "../../src/codec/mask.ts";
import { simdBlock } from "../../src/codec/simd_mask.ts";

function naive(bytes: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  return bytes.map((b, i) => b ^ key[(phase + i) & 3]);
}

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 29 + 5) & 0xff);
}

Deno.test("simdBlock(): 4 MiB that cannot grow, made once; xor() covers whole 16-byte steps only", () => {
  assertExists(simdBlock(), "Deno has WebAssembly SIMD");
  const block = simdBlock()!;
  assertEquals(block.bytes.length, 4 << 20);
  assert(simdBlock() === block);
  const at = block.bytes.length - 64;
  block.bytes.fill(0x0f, at, at + 40);
  block.xor(at, 40, 0x0f0f0f0f);
  assertEquals([...block.bytes.subarray(at, at + 40)], [
    ...new Array(32).fill(0),
    ...new Array(8).fill(0x0f),
  ]);
  block.bytes.fill(0, at, at + 40);
});

Deno.test("maskInPlace() on the SIMD block equals a byte-wise XOR for every size, offset and phase", () => {
  const block = simdBlock()!;
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const base = block.bytes.length - (1 << 17);
  const sizes = [64, 65, 79, 80, 95, 200, 1000, 4096, 4103, 65_537];
  for (const size of sizes) {
    const data = pattern(size);
    for (let offset = 0; offset < 20; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const region = block.bytes.subarray(base, base + size + 64);
        region.fill(0);
        region.set(data, offset);
        const view = region.subarray(offset, offset + size);
        const next = maskInPlace(view, key, phase);
        assertEquals(view, naive(data, key, phase));
        assertEquals(next, (phase + size) & 3);
        assert(region.subarray(0, offset).every((b) => b === 0));
        assert(region.subarray(offset + size).every((b) => b === 0));
      }
    }
  }
  block.bytes.fill(0, base);
});
