import { assertEquals, assertThrows } from "@std/assert";
import { encodeFrame, fragmentMessage, OpCode, Rsv } from "../../mod.ts";
import { concatAll, enc, hex, parseFrames } from "../_wire.ts";

Deno.test("fragmentMessage: opcode first, continuations after, FIN last, RSV on the first only", () => {
  const message = new Uint8Array(10).map((_, i) => i);
  const frames = fragmentMessage(OpCode.Binary, message, 4, { rsv: Rsv.Rsv1 });
  const parsed = parseFrames(concatAll(frames.map(encodeFrame)));
  assertEquals(
    parsed.map((f) => [f.opcode, f.fin, f.rsv, f.payload.length]),
    [[2, false, 0x40, 4], [0, false, 0, 4], [0, true, 0, 2]],
  );
  assertEquals(concatAll(parsed.map((f) => f.payload)), message);
  assertEquals(frames[1].payload, message.subarray(4, 8), "views, not copies");
});

Deno.test("fragmentMessage: exact multiples, one frame when it fits, an empty message", () => {
  assertEquals(fragmentMessage(OpCode.Text, "abcd", 2).length, 2);
  const one = fragmentMessage(OpCode.Text, "abcd", 100);
  assertEquals(one.length, 1);
  assertEquals(encodeFrame(one[0]), hex("81 04 61 62 63 64"));
  const empty = fragmentMessage(OpCode.Text, "", 5);
  assertEquals(empty.map(encodeFrame), [hex("81 00")]);
});

Deno.test("fragmentMessage: a text is split as UTF-8 bytes and masked per frame", () => {
  const frames = fragmentMessage(OpCode.Text, "€€", 4, { mask: true });
  const parsed = parseFrames(concatAll(frames.map(encodeFrame)));
  assertEquals(parsed.map((f) => f.masked), [true, true]);
  assertEquals(concatAll(parsed.map((f) => f.payload)), enc("€€"));
});

Deno.test("fragmentMessage: refuses a bad size or a control opcode", () => {
  for (const size of [0, -1, 1.5, NaN]) {
    assertThrows(() => fragmentMessage(OpCode.Text, "a", size), RangeError);
  }
  assertThrows(
    // @ts-expect-error: a control opcode is not a data opcode
    () => fragmentMessage(OpCode.Ping, "a", 5),
    RangeError,
    "Only text",
  );
});
