import { assertEquals, assertThrows } from "@std/assert";
import {
  appendExtraFields,
  isHandshakeField,
  WEBSOCKET_VERSION,
} from "../../src/handshake/handshake_fields.ts";

Deno.test("appendExtraFields() adds fields in order and refuses owned ones", () => {
  const fields: [string, string][] = [["Upgrade", "websocket"]];
  const extra = new Headers([["X-B", "2"], ["X-A", "1"]]);
  assertEquals(appendExtraFields(fields, extra, isHandshakeField), [
    ["Upgrade", "websocket"],
    ["x-a", "1"],
    ["x-b", "2"],
  ]);
  assertEquals(appendExtraFields([], undefined, isHandshakeField), []);
  for (const name of ["Upgrade", "Connection", "Sec-WebSocket-Accept"]) {
    assertThrows(
      () =>
        appendExtraFields([], new Headers({ [name]: "x" }), isHandshakeField),
      TypeError,
      `Cannot set the handshake header ${name.toLowerCase()}`,
    );
  }
  assertEquals(isHandshakeField("sec-websocket-key"), false);
  assertEquals(WEBSOCKET_VERSION, "13");
});
