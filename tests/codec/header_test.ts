import { assertEquals } from "@std/assert";
import {
  decodeHeader,
  encodeHeader,
  headerSize,
  newHeader,
} from "../../mod.ts";

const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 2 ** 32, 2 ** 53 - 1];

Deno.test("encodeHeader() and decodeHeader() round-trip every length class", () => {
  for (const length of LENGTHS) {
    for (const mask of [null, new Uint8Array([9, 8, 7, 6])]) {
      const bytes = new Uint8Array(14);
      const n = encodeHeader(bytes, 0, 0x80 | 0x40 | 0x2, length, mask);
      assertEquals(n, headerSize(length, mask !== null));
      const h = newHeader();
      assertEquals(decodeHeader(bytes, 0, n, h), n);
      assertEquals(
        [h.fin, h.rsv, h.opcode, h.masked, h.length],
        [true, 0x40, 2, mask !== null, length],
      );
      if (mask) assertEquals([...h.mask], [...mask]);
      // Fed byte by byte, the header is only decoded once complete.
      for (let end = 0; end < n; end++) {
        assertEquals(decodeHeader(bytes, 0, end, newHeader()), 0);
      }
    }
  }
});

Deno.test("encodeHeader() uses the minimal length form (RFC 6455 §5.2)", () => {
  const out = new Uint8Array(14);
  assertEquals(encodeHeader(out, 0, 0x81, 125, null), 2);
  assertEquals(encodeHeader(out, 0, 0x81, 126, null), 4);
  assertEquals([...out.subarray(0, 4)], [0x81, 126, 0, 126]);
  assertEquals(encodeHeader(out, 0, 0x82, 65536, null), 10);
  assertEquals([...out.subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
});

Deno.test("decodeHeader() reads the RFC 6455 §5.7 examples", () => {
  const h = newHeader();
  // A single-frame unmasked text message "Hello".
  assertEquals(decodeHeader(new Uint8Array([0x81, 0x05]), 0, 2, h), 2);
  assertEquals([h.fin, h.opcode, h.length, h.masked], [true, 1, 5, false]);
  // The first fragment of an unmasked text message "Hel".
  assertEquals(decodeHeader(new Uint8Array([0x01, 0x03]), 0, 2, h), 2);
  assertEquals([h.fin, h.opcode, h.length], [false, 1, 3]);
  // 256 bytes binary message in a single unmasked frame.
  assertEquals(
    decodeHeader(new Uint8Array([0x82, 0x7e, 0x01, 0x00]), 0, 4, h),
    4,
  );
  assertEquals(h.length, 256);
  // 64 KiB binary message in a single unmasked frame.
  const big = new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
  assertEquals(decodeHeader(big, 0, 10, h), 10);
  assertEquals(h.length, 65536);
  // Unmasked ping with "Hello", at an offset.
  const ping = new Uint8Array([0xff, 0x89, 0x05]);
  assertEquals(decodeHeader(ping, 1, 3, h), 2);
  assertEquals([h.opcode, h.length], [9, 5]);
});

Deno.test("decodeHeader() rejects a 64-bit length with the top bit set", () => {
  const bytes = new Uint8Array([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
  assertEquals(decodeHeader(bytes, 0, 10, newHeader()), -1);
});

Deno.test("decodeHeader() clamps lengths beyond 2^53 to an unsafe-size marker", () => {
  const bytes = new Uint8Array([
    0x82,
    0x7f,
    0x7f,
    0xff,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
  ]);
  const h = newHeader();
  assertEquals(decodeHeader(bytes, 0, 10, h), 10);
  assertEquals(h.length, Number.MAX_SAFE_INTEGER);
});

Deno.test("decodeHeader() round-trips 10,000 seeded random headers", () => {
  let seed = 0x12345678;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const bytes = new Uint8Array(14);
  const h = newHeader();
  for (let i = 0; i < 10_000; i++) {
    const length = Math.floor(rand() ** 4 * 2 ** 40);
    const first = Math.floor(rand() * 256);
    const mask = rand() < 0.5 ? null : new Uint8Array([i, i >> 8, 3, 4]);
    const n = encodeHeader(bytes, 0, first, length, mask);
    assertEquals(decodeHeader(bytes, 0, n, h), n);
    assertEquals(
      [h.fin, h.rsv, h.opcode, h.length, h.masked],
      [(first & 0x80) !== 0, first & 0x70, first & 0xf, length, mask !== null],
    );
  }
});
