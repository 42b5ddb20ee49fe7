import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { HandshakeError } from "../../src/codec/errors.ts";
import type { ClientExtensions } from "../../src/conn/extension.ts";
import {
  checkResponse,
  encodeUpgradeRequest,
} from "../../src/handshake/client_handshake.ts";
import type { HttpResponse } from "../../src/handshake/http_parse.ts";
import { response, RFC_ACCEPT, RFC_KEY } from "./_fixtures.ts";

const dec = new TextDecoder();

Deno.test("encodeUpgradeRequest() writes the request with offers and extra fields", () => {
  const text = dec.decode(encodeUpgradeRequest({
    host: "[::1]:8080",
    target: "/a?b=c",
    key: RFC_KEY,
    protocols: ["v2", "v1"],
    extensions: "permessage-deflate",
    headers: new Headers({ Authorization: "Bearer x" }),
  }));
  assertEquals(
    text,
    "GET /a?b=c HTTP/1.1\r\nHost: [::1]:8080\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${RFC_KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v2, v1\r\n" +
      "Sec-WebSocket-Extensions: permessage-deflate\r\n" +
      "authorization: Bearer x\r\n\r\n",
  );
  for (
    const name of [
      "Host",
      "Upgrade",
      "Sec-WebSocket-Key",
      "Sec-WebSocket-Version",
    ]
  ) {
    assertThrows(
      () =>
        encodeUpgradeRequest({
          host: "a",
          target: "/",
          key: RFC_KEY,
          headers: new Headers({ [name]: "y" }),
        }),
      TypeError,
      "handshake header",
    );
  }
});

Deno.test("checkResponse() accepts a valid 101 and reports the choices", () => {
  const expect = { accept: RFC_ACCEPT, protocols: ["a", "b"] };
  assertEquals(checkResponse(response(), expect), {
    protocol: "",
    extensions: "",
    rsvAllowed: 0,
  });
  assertEquals(
    checkResponse(
      response({
        "sec-websocket-protocol": "b",
        upgrade: "WEBSOCKET",
        connection: "upgrade",
      }),
      expect,
    ).protocol,
    "b",
  );
});

Deno.test("checkResponse() fails with the server's status on each invalid answer", () => {
  const expect = { accept: RFC_ACCEPT, protocols: ["a"] };
  const cases: [string, HttpResponse, string][] = [
    ["403", response({}, 403), "403"],
    ["200", response({}, 200), "instead of 101"],
    ["no Upgrade", response({ upgrade: null }), "Upgrade"],
    ["no Connection", response({ connection: "close" }), "Connection"],
    ["no accept", response({ "sec-websocket-accept": null }), "Accept"],
    [
      "wrong accept",
      response({ "sec-websocket-accept": "x" + RFC_ACCEPT.slice(1) }),
      "Accept",
    ],
    [
      "unoffered subprotocol",
      response({ "sec-websocket-protocol": "b" }),
      "not offered",
    ],
    [
      "two subprotocols",
      response({ "sec-websocket-protocol": "a, a" }),
      "not offered",
    ],
    [
      "unoffered extension",
      response({ "sec-websocket-extensions": "x-foo" }),
      "not offered",
    ],
  ];
  for (const [name, res, message] of cases) {
    const err = assertThrows(
      () => checkResponse(res, expect),
      HandshakeError,
      message,
      name,
    );
    assertEquals((err as HandshakeError).status, res.status, name);
  }
  const noOffer = { accept: RFC_ACCEPT, protocols: [] };
  assertThrows(
    () => checkResponse(response({ "sec-websocket-protocol": "a" }), noOffer),
    HandshakeError,
    "not offered",
  );
});

Deno.test("checkResponse() hands extensions to the seam and fails when it refuses", () => {
  const seen: string[] = [];
  const seam: ClientExtensions = {
    offer: "x-test",
    confirm(answer) {
      seen.push(answer);
      if (answer !== "x-test") throw new Error("Unknown parameters");
      return { extensions: answer, rsvAllowed: 0x40 };
    },
  };
  const expect = { accept: RFC_ACCEPT, protocols: [], extensions: seam };
  assertEquals(
    checkResponse(response({ "sec-websocket-extensions": "x-test" }), expect),
    {
      protocol: "",
      extensions: "x-test",
      rsvAllowed: 0x40,
    },
  );
  assertEquals(checkResponse(response(), expect).rsvAllowed, 0);
  const err = assertThrows(
    () =>
      checkResponse(
        response({ "sec-websocket-extensions": "x-test; a=1" }),
        expect,
      ),
    HandshakeError,
    "Unknown parameters",
  ) as HandshakeError;
  assertEquals(err.status, 101);
  assertInstanceOf(err.cause, Error);
  assertEquals(seen, ["x-test", "x-test; a=1"]);
});
