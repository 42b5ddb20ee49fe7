import { assertEquals, assertNotEquals } from "@std/assert";
import { maskInPlace } from "../../mod.ts";
import { maskInto, nextMaskKey } from "../../src/codec/mask.ts";

function naive(bytes: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  return bytes.map((b, i) => b ^ key[(phase + i) & 3]);
}

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
}

Deno.test("maskInPlace() equals a byte-wise XOR for every size, offset and phase", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  for (let size = 0; size <= 300; size++) {
    for (let offset = 0; offset < 8; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const backing = new Uint8Array(size + 16);
        const data = pattern(size);
        backing.set(data, offset);
        const view = backing.subarray(offset, offset + size);
        const next = maskInPlace(view, key, phase);
        assertEquals(view, naive(data, key, phase));
        assertEquals(next, (phase + size) & 3);
        // The bytes around the view are untouched.
        assertEquals(backing.subarray(0, offset).every((b) => b === 0), true);
        assertEquals(
          backing.subarray(offset + size).every((b) => b === 0),
          true,
        );
      }
    }
  }
});

Deno.test("maskInPlace() over long runs equals a byte-wise XOR at every alignment", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  for (const size of [1023, 1024, 1025, 1031, 4096, 4099, 65_541]) {
    for (let offset = 0; offset < 16; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const backing = new Uint8Array(size + 32);
        const data = pattern(size);
        backing.set(data, offset);
        const next = maskInPlace(backing, key, phase, offset, offset + size);
        assertEquals(
          backing.subarray(offset, offset + size),
          naive(data, key, phase),
        );
        assertEquals(next, (phase + size) & 3);
        assertEquals(backing.subarray(0, offset).every((b) => b === 0), true);
        assertEquals(
          backing.subarray(offset + size).every((b) => b === 0),
          true,
        );
      }
    }
  }
});

Deno.test("maskInPlace() masks a sub-range and continues across pieces", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  const data = pattern(1 << 16);
  const expected = naive(data, key, 0);
  const work = data.slice();
  let phase = 0;
  // Uneven pieces, as a payload arrives from the network.
  for (
    let at = 0, step = 1;
    at < work.length;
    step = (step * 7 + 3) % 5000 + 1
  ) {
    const end = Math.min(work.length, at + step);
    phase = maskInPlace(work, key, phase, at, end);
    at = end;
  }
  assertEquals(work, expected);
});

Deno.test("maskInPlace() is its own inverse over 1 MiB", () => {
  const key = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
  const data = pattern(1 << 20);
  const work = data.slice();
  maskInPlace(work, key, 2);
  assertNotEquals(work, data);
  maskInPlace(work, key, 2);
  assertEquals(work, data);
});

Deno.test("maskInPlace() stays right across many buffers masked in turn", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const data = pattern(1000);
  const buffers = Array.from({ length: 8 }, () => data.slice());
  for (let round = 0; round < 2; round++) {
    for (const buf of buffers) maskInPlace(buf, key, 1, 3, 997);
  }
  // Masked twice: back to the start.
  for (const buf of buffers) assertEquals(buf, data);
  maskInPlace(buffers[0], key, 1, 3, 997);
  assertEquals(
    buffers[0].subarray(3, 997),
    naive(data.subarray(3, 997), key, 1),
  );
});

Deno.test("maskInPlace() masks the whole range of a resizable buffer that grew", () => {
  const key = new Uint8Array([9, 8, 7, 6]);
  const buffer = new ArrayBuffer(256, { maxByteLength: 4096 });
  const small = new Uint8Array(buffer);
  maskInPlace(small, key, 0);
  maskInPlace(small, key, 0);
  buffer.resize(4096);
  const grown = new Uint8Array(buffer);
  const data = pattern(4096);
  grown.set(data);
  maskInPlace(grown, key, 2);
  assertEquals(grown, naive(data, key, 2));
  buffer.resize(512);
  const shrunk = new Uint8Array(buffer);
  shrunk.set(data.subarray(0, 512));
  maskInPlace(shrunk, key, 0);
  assertEquals(shrunk, naive(data.subarray(0, 512), key, 0));
});

Deno.test("maskInto() masks a copy and leaves the source untouched", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const src = pattern(100);
  const before = src.slice();
  const dst = new Uint8Array(110);
  maskInto(src, dst, 5, key, 1);
  assertEquals(src, before);
  assertEquals(dst.subarray(5, 105), naive(src, key, 1));
});

Deno.test("nextMaskKey() draws fresh keys", () => {
  const seen = new Set<string>();
  const key = new Uint8Array(4);
  for (let i = 0; i < 5000; i++) {
    nextMaskKey(key);
    seen.add(key.join(","));
  }
  // 5,000 draws from 2^32 values: collisions are vanishingly rare.
  assertEquals(seen.size >= 4990, true);
});
