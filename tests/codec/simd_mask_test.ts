/** SIMD masking: the WebAssembly block, and maskInPlace() on bytes in it. */

import {
  assert,
  assertEquals,
  assertExists,
  assertStrictEquals,
} from "@std/assert";
import { maskDown, maskInPlace } from "../../src/codec/mask.ts";
import {
  simdBlock,
  simdMemory,
  simdMoveOf,
  simdXorOf,
} from "../../src/codec/simd_mask.ts";

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

Deno.test("simdMemory(): a memory of its own per call, at least the size asked, masked by SIMD; plain buffers are not", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const a = simdMemory(200_000)!;
  const b = simdMemory(1)!;
  assertExists(a, "Deno has WebAssembly SIMD");
  assert(a.bytes.length >= 200_000 && a.bytes.length % 65536 === 0);
  assert(a.bytes.buffer !== b.bytes.buffer);
  assert(a.bytes.buffer !== simdBlock()!.bytes.buffer);
  assertStrictEquals(simdXorOf(a.bytes.buffer), a.xor);
  assertStrictEquals(simdXorOf(b.bytes.buffer), b.xor);
  assertStrictEquals(simdXorOf(simdBlock()!.bytes.buffer), simdBlock()!.xor);
  assertStrictEquals(simdXorOf(new ArrayBuffer(200_000)), null);
  const data = pattern(150_001);
  for (const [offset, phase] of [[16, 0], [17, 1], [31, 3], [1000, 2]]) {
    const view = a.bytes.subarray(offset, offset + data.length);
    view.set(data);
    a.bytes.fill(0, 0, offset);
    assertEquals(maskInPlace(view, key, phase), (phase + data.length) & 3);
    assertEquals(view, naive(data, key, phase), `offset ${offset}`);
    assert(a.bytes.subarray(0, offset).every((x) => x === 0));
  }
});

Deno.test("maskDown() unmasks while moving down, in a SIMD memory and in a plain buffer alike, for every size, gap and phase", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const memory = simdMemory(1 << 16)!;
  assertExists(memory, "Deno has WebAssembly SIMD");
  assertStrictEquals(simdMoveOf(memory.bytes.buffer), memory.move);
  assertStrictEquals(simdMoveOf(simdBlock()!.bytes.buffer), null);
  const plain = new Uint8Array(1 << 16);
  const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 100, 4096, 4103];
  for (const bytes of [memory.bytes, plain]) {
    for (const size of sizes) {
      const data = pattern(size);
      for (const gap of [0, 1, 2, 8, 14, 15, 16, 17, 100]) {
        for (let phase = 0; phase < 4; phase++) {
          const to = 3 + (size & 7);
          bytes.fill(0xee, 0, to);
          bytes.set(data, to + gap);
          const next = maskDown(bytes, to + gap, to, size, key, phase);
          assertEquals(next, (phase + size) & 3);
          assertEquals(
            bytes.subarray(to, to + size),
            naive(data, key, phase),
            `size ${size}, gap ${gap}, phase ${phase}`,
          );
          assert(bytes.subarray(0, to).every((b) => b === 0xee));
        }
      }
    }
  }
});
