/**
 * Opcodes (RFC 6455 §5.2): the named values and the two predicates, over all
 * sixteen 4-bit values.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { isControl, isKnownOpCode, OpCode } from "../../src/codec/opcode.ts";

const ALL = Array.from({ length: 16 }, (_, i) => i);

Deno.test("OpCode names the six opcodes RFC 6455 defines", () => {
  assertEquals({ ...OpCode }, {
    Continuation: 0x0,
    Text: 0x1,
    Binary: 0x2,
    Close: 0x8,
    Ping: 0x9,
    Pong: 0xa,
  });
});

Deno.test("isControl() is true for 0x8-0xF, reserved ones included", () => {
  assertEquals(ALL.filter(isControl), [8, 9, 10, 11, 12, 13, 14, 15]);
});

Deno.test("isKnownOpCode() is true for 0x0-0x2 and 0x8-0xA only", () => {
  assertEquals(ALL.filter(isKnownOpCode), [0, 1, 2, 8, 9, 10]);
  assertEquals(
    ALL.filter(isKnownOpCode),
    Object.values(OpCode).sort((a, b) => a - b),
  );
});

Deno.test("every named opcode is known; its kind matches its high bit", () => {
  for (const [name, op] of Object.entries(OpCode)) {
    assertEquals(isKnownOpCode(op), true, name);
    assertEquals(isControl(op), op >= 8, name);
  }
});
