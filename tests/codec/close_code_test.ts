import { assertEquals } from "@std/assert";
import { CloseCode } from "../../mod.ts";
import { isValidCloseCode } from "../../src/codec/close_code.ts";
import { INVALID_CLOSE_CODES, VALID_CLOSE_CODES } from "../_wire.ts";

Deno.test("isValidCloseCode() follows RFC 6455 §7.4", () => {
  for (const code of VALID_CLOSE_CODES) {
    assertEquals(isValidCloseCode(code), true, `${code}`);
  }
  for (const code of INVALID_CLOSE_CODES) {
    assertEquals(isValidCloseCode(code), false, `${code}`);
  }
});

Deno.test("CloseCode names the registered codes", () => {
  assertEquals(CloseCode.NormalClosure, 1000);
  assertEquals(CloseCode.ProtocolError, 1002);
  assertEquals(CloseCode.InvalidFramePayloadData, 1007);
  assertEquals(CloseCode.MessageTooBig, 1009);
  assertEquals(CloseCode.TlsHandshake, 1015);
});
