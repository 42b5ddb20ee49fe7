import { assertEquals, assertThrows } from "@std/assert";
import {
  closeFrameFor,
  decodeClosePayload,
  encodeClosePayload,
  MAX_CLOSE_REASON_BYTES,
  truncateReason,
} from "../../src/codec/close_frame.ts";
import { WebSocketError } from "../../src/codec/errors.ts";
import { dec, enc, hex } from "../_wire.ts";

Deno.test("encodeClosePayload: the code big-endian, then the reason", () => {
  assertEquals(encodeClosePayload(1000, ""), hex("03 e8"));
  assertEquals(encodeClosePayload(4001, "ok"), hex("0f a1 6f 6b"));
});

Deno.test("decodeClosePayload reads what encodeClosePayload wrote, and refuses bad payloads", () => {
  assertEquals(decodeClosePayload(encodeClosePayload(1001, "κόσμε")), {
    code: 1001,
    reason: "κόσμε",
  });
  assertEquals(decodeClosePayload(new Uint8Array(0)), {
    code: 1005,
    reason: "",
  });
  const codeOf = (bytes: Uint8Array) => {
    try {
      decodeClosePayload(bytes);
    } catch (err) {
      return (err as WebSocketError).code;
    }
  };
  assertEquals(codeOf(hex("03")), "invalid_close_payload");
  assertThrows(() => decodeClosePayload(hex("03")), WebSocketError, "1 byte");
  assertEquals(codeOf(hex("03 ed")), "invalid_close_code"); // 1005
  assertEquals(codeOf(hex("07 d0")), "invalid_close_code"); // 2000
  assertEquals(codeOf(hex("03 e8 ed a0 80")), "invalid_utf8"); // a surrogate
});

Deno.test("truncateReason cuts at 123 bytes without splitting a character", () => {
  assertEquals(truncateReason("short"), "short");
  const ascii = "a".repeat(200);
  assertEquals(truncateReason(ascii), "a".repeat(MAX_CLOSE_REASON_BYTES));
  // 61 two-byte characters are 122 bytes; a 62nd would cross 123.
  const greek = "λ".repeat(80);
  assertEquals(truncateReason(greek), "λ".repeat(61));
  // A four-byte character at the edge goes whole or not at all.
  const edge = "a".repeat(121) + "😀" + "b";
  assertEquals(truncateReason(edge), "a".repeat(121));
  for (const text of [ascii, greek, edge, "€".repeat(50)]) {
    const cut = enc(truncateReason(text));
    assertEquals(cut.length <= MAX_CLOSE_REASON_BYTES, true);
    assertEquals(dec(cut), truncateReason(text)); // whole characters only
  }
});

Deno.test("closeFrameFor: the error's close code and message, 1011 for others, nothing for 1006", () => {
  const protocol = closeFrameFor(
    new WebSocketError("invalid_opcode", "Reserved opcode 3"),
  );
  assertEquals([protocol.code, protocol.reason], [1002, "Reserved opcode 3"]);
  assertEquals(protocol.payload, encodeClosePayload(1002, "Reserved opcode 3"));
  const other = closeFrameFor(new Error("x".repeat(300)));
  assertEquals(other.code, 1011);
  assertEquals(other.payload.length, 2 + MAX_CLOSE_REASON_BYTES);
  const gone = closeFrameFor(new WebSocketError("closed", "Gone"));
  assertEquals([gone.code, gone.payload.length], [1006, 0]);
  assertEquals(closeFrameFor("text").code, 1011);
});

Deno.test("closePayload: checked code and reason, or an empty payload", async () => {
  const { closePayload } = await import("../../src/codec/close_frame.ts");
  assertEquals(closePayload(1000, "bye"), hex("03 e8 62 79 65"));
  assertEquals(closePayload(4999), hex("13 87"));
  assertEquals(closePayload(), new Uint8Array(0));
  assertEquals(
    closePayload(1001, "é".repeat(61) + "a").length,
    2 + MAX_CLOSE_REASON_BYTES,
  );
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
    assertThrows(() => closePayload(code), RangeError, "may not be sent");
  }
  assertThrows(
    () => closePayload(undefined, "x"),
    RangeError,
    "needs a close code",
  );
  assertThrows(
    () => closePayload(1000, "é".repeat(62)),
    RangeError,
    "124 bytes",
  );
});
