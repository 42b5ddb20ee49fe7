/**
 * InflateOutput's buffer policy: the internal buffer grows up to the limit, is
 * reused for the next message, and is not kept past 64 KiB.
 */

import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { WebSocketError } from "../../src/codec/errors.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";

Deno.test("InflateOutput reuses a small internal buffer from one message to the next", () => {
  const out = new InflateOutput();
  out.start(1 << 20);
  out.push(new Uint8Array(3000).fill(1));
  const first = out.buffer;
  out.start(1 << 20);
  assertStrictEquals(out.buffer, first);
  out.push(new Uint8Array([7, 8]));
  assertEquals([...out.data], [7, 8]);
});

Deno.test("InflateOutput lets a buffer grown past 64 KiB go when the next message starts", () => {
  const out = new InflateOutput();
  out.start(8 << 20);
  out.push(new Uint8Array(1 << 20).fill(2));
  assertEquals(out.data.length, 1 << 20);
  assertEquals(out.data[(1 << 20) - 1], 2);
  out.start(8 << 20);
  assertEquals(out.buffer.length, 0);
  assertEquals(out.data.length, 0);
  out.push(new Uint8Array(100).fill(3));
  assertEquals(out.buffer.length, 4096);
  assertEquals([...out.data.subarray(98)], [3, 3]);
});

Deno.test("InflateOutput writes into the caller's buffer and refuses to outgrow it", () => {
  const out = new InflateOutput();
  const mine = new Uint8Array(4);
  out.start(100, mine);
  out.push(new Uint8Array([1, 2, 3]));
  assertStrictEquals(out.data.buffer, mine.buffer);
  const error = assertThrows(
    () => out.push(new Uint8Array([4, 5])),
    WebSocketError,
  );
  assertEquals(error.code, "buffer_too_small");
});
