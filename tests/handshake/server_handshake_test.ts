import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  type HttpRequest,
  HttpStatus,
} from "../../src/handshake/http_parse.ts";
import { encodeRejection, Rejection } from "../../src/handshake/rejection.ts";
import {
  checkRequest,
  encodeSwitchingProtocols,
  selectProtocol,
} from "../../src/handshake/server_handshake.ts";
import { request, RFC_ACCEPT, RFC_KEY } from "./_fixtures.ts";

const dec = new TextDecoder();

Deno.test("checkRequest() returns the key, subprotocols and extension offer", () => {
  const offer = checkRequest(request({
    upgrade: "WebSocket",
    connection: "keep-alive, Upgrade",
    "sec-websocket-protocol": "chat, superchat",
    "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
  }));
  assertEquals(offer.key, RFC_KEY);
  assertEquals(offer.protocols, ["chat", "superchat"]);
  assertEquals(offer.extensions, "permessage-deflate; client_max_window_bits");
  assertEquals(
    checkRequest(request({}, { version: "HTTP/1.2" })).protocols,
    [],
  );
  assertEquals(checkRequest(request({ "content-length": "0" })).key, RFC_KEY);
});

Deno.test("checkRequest() refuses each invalid request with its status", () => {
  const cases: [string, HttpRequest, number][] = [
    ["POST", request({}, { method: "POST" }), HttpStatus.MethodNotAllowed],
    [
      "lower-case get",
      request({}, { method: "get" }),
      HttpStatus.MethodNotAllowed,
    ],
    ["HTTP/1.0", request({}, { version: "HTTP/1.0" }), HttpStatus.BadRequest],
    ["HTTP/2.0", request({}, { version: "HTTP/2.0" }), HttpStatus.BadRequest],
    ["no Host", request({ host: null }), HttpStatus.BadRequest],
    ["no Upgrade", request({ upgrade: null }), HttpStatus.UpgradeRequired],
    ["Upgrade: h2c", request({ upgrade: "h2c" }), HttpStatus.UpgradeRequired],
    [
      "no Connection",
      request({ connection: null }),
      HttpStatus.UpgradeRequired,
    ],
    [
      "Connection: keep-alive",
      request({ connection: "keep-alive" }),
      HttpStatus.UpgradeRequired,
    ],
    [
      "no version",
      request({ "sec-websocket-version": null }),
      HttpStatus.UpgradeRequired,
    ],
    [
      "version 8",
      request({ "sec-websocket-version": "8" }),
      HttpStatus.UpgradeRequired,
    ],
    ["no key", request({ "sec-websocket-key": null }), HttpStatus.BadRequest],
    [
      "short key",
      request({ "sec-websocket-key": "c2hvcnQ=" }),
      HttpStatus.BadRequest,
    ],
    [
      "two keys",
      request({ "sec-websocket-key": `${RFC_KEY}, ${RFC_KEY}` }),
      HttpStatus.BadRequest,
    ],
    ["a body", request({ "content-length": "5" }), HttpStatus.BadRequest],
    [
      "chunked body",
      request({ "transfer-encoding": "chunked" }),
      HttpStatus.BadRequest,
    ],
    [
      "bad subprotocol",
      request({ "sec-websocket-protocol": "chat, a/b" }),
      HttpStatus.BadRequest,
    ],
  ];
  for (const [name, req, status] of cases) {
    const err = assertThrows(
      () => checkRequest(req),
      Rejection,
      undefined,
      name,
    );
    assertEquals((err as Rejection).status, status, name);
    assert((err as Rejection).body.length > 0, name);
  }
});

Deno.test("checkRequest() tells a client of another version to use 13", () => {
  const err = assertThrows(
    () => checkRequest(request({ "sec-websocket-version": "7" })),
    Rejection,
  ) as Rejection;
  assertEquals(err.status, 426);
  assertEquals(err.headers.get("sec-websocket-version"), "13");
  assertEquals(err.headers.get("upgrade"), "websocket");
  const text = dec.decode(encodeRejection(err));
  assertStringIncludes(text, "HTTP/1.1 426 Upgrade Required\r\n");
  assertStringIncludes(text, "Connection: Upgrade, close\r\n");
  assertStringIncludes(text, "sec-websocket-version: 13\r\n");
});

Deno.test("checkRequest() refuses GET with 405 and an Allow header", () => {
  const err = assertThrows(() =>
    checkRequest(request({}, { method: "PUT" }))
  ) as Rejection;
  assertEquals(err.headers.get("allow"), "GET");
});

Deno.test("selectProtocol() follows the client's preference", () => {
  assertEquals(selectProtocol(["b", "a"], ["a", "b"]), "b");
  assertEquals(selectProtocol(["c", "a"], ["a", "b"]), "a");
  assertEquals(selectProtocol(["c"], ["a"]), "");
  assertEquals(selectProtocol([], ["a"]), "");
  assertEquals(selectProtocol(["A"], ["a"]), ""); // case-sensitive
});

Deno.test("encodeSwitchingProtocols() writes the 101 with chosen values and extra fields", () => {
  const text = dec.decode(encodeSwitchingProtocols({
    accept: RFC_ACCEPT,
    protocol: "chat",
    extensions: "permessage-deflate",
    headers: new Headers({ "Set-Cookie": "a=1" }),
  }));
  assertEquals(
    text,
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n` +
      "Sec-WebSocket-Extensions: permessage-deflate\r\nset-cookie: a=1\r\n\r\n",
  );
  const bare = dec.decode(
    encodeSwitchingProtocols({ accept: RFC_ACCEPT, protocol: "" }),
  );
  assert(
    !bare.includes("Sec-WebSocket-Protocol") && !bare.includes("Extensions"),
  );
  for (
    const name of [
      "Upgrade",
      "Connection",
      "Sec-WebSocket-Accept",
      "Sec-WebSocket-Protocol",
    ]
  ) {
    assertThrows(
      () =>
        encodeSwitchingProtocols({
          accept: "x",
          headers: new Headers({ [name]: "y" }),
        }),
      TypeError,
      "handshake header",
    );
  }
});
