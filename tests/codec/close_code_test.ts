import { assertEquals } from "@std/assert";
import { CloseCode } from "../../mod.ts";
import { isValidCloseCode } from "../../src/codec/close_code.ts";

Deno.test("isValidCloseCode() follows RFC 6455 §7.4", () => {
  const valid = [
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    3000,
    3999,
    4000,
    4999,
  ];
  const invalid = [
    0,
    999,
    1004,
    1005,
    1006,
    1015,
    1016,
    1100,
    2000,
    2999,
    5000,
    65535,
  ];
  for (const code of valid) {
    assertEquals(isValidCloseCode(code), true, `${code}`);
  }
  for (const code of invalid) {
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
