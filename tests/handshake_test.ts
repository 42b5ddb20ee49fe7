import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { HandshakeError } from "../src/codec/errors.ts";
import {
  acceptKey,
  checkRequest,
  checkResponse,
  type ClientExtensions,
  encodeRejection,
  encodeSwitchingProtocols,
  encodeUpgradeRequest,
  generateKey,
  hasToken,
  isToken,
  isValidKey,
  parseTokenList,
  reject,
  Rejection,
  selectProtocol,
} from "../src/handshake/handshake.ts";
import {
  type HttpRequest,
  type HttpResponse,
  HttpStatus,
} from "../src/handshake/http.ts";

const dec = new TextDecoder();
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function request(
  headers: Record<string, string | null> = {},
  line: Partial<HttpRequest> = {},
): HttpRequest {
  const h = new Headers({
    host: "example.com",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": RFC_KEY,
    "sec-websocket-version": "13",
  });
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) h.delete(name);
    else h.set(name, value);
  }
  return {
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    headers: h,
    ...line,
  };
}

function response(
  headers: Record<string, string | null> = {},
  status = 101,
): HttpResponse {
  const h = new Headers({
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": RFC_ACCEPT,
  });
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) h.delete(name);
    else h.set(name, value);
  }
  return { version: "HTTP/1.1", status, reason: "", headers: h };
}

Deno.test("acceptKey() gives the RFC 6455 §1.3 example's value", async () => {
  assertEquals(await acceptKey(RFC_KEY), RFC_ACCEPT);
});

Deno.test("generateKey() makes distinct 16-byte base64 keys", () => {
  const keys = new Set(Array.from({ length: 100 }, generateKey));
  assertEquals(keys.size, 100);
  for (const key of keys) {
    assert(isValidKey(key), key);
    assertEquals(Uint8Array.from(atob(key), (c) => c.charCodeAt(0)).length, 16);
  }
});

Deno.test("isValidKey() accepts only the base64 of 16 bytes", () => {
  assert(isValidKey(RFC_KEY));
  assert(isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  assert(isValidKey("/////////////////////w=="));
  for (
    const bad of [
      "",
      "c2hvcnQ=", // 5 bytes
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZQ==\n",
      " dGhlIHNhbXBsZSBub25jZQ==",
      "dGhlIHNhbXBsZSBub25jZR==", // trailing bits set
      "AAAAAAAAAAAAAAAAAAAAAAAA", // 18 bytes
      "dGhlIHNhbXBsZSBub25jZ-==",
    ]
  ) assert(!isValidKey(bad), bad);
});

Deno.test("parseTokenList() and hasToken() read comma-separated lists", () => {
  assertEquals(parseTokenList(null), []);
  assertEquals(parseTokenList(""), []);
  assertEquals(parseTokenList(" a ,b,, \tc\t"), ["a", "b", "c"]);
  assert(hasToken("keep-alive, UPGRADE", "upgrade"));
  assert(hasToken("Upgrade", "upgrade"));
  assert(!hasToken("upgraded", "upgrade"));
  assert(!hasToken(null, "upgrade"));
  assert(isToken("chat.v1+json"));
  assert(!isToken("a b") && !isToken("a,b") && !isToken("") && !isToken("ü"));
});

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

Deno.test("Rejection takes 300-599 and defaults its message", () => {
  assertEquals(reject(403).message, "Forbidden");
  assertEquals(reject(403, { body: "No" }).message, "No");
  assertEquals(reject(403, { body: "No", message: "Log" }).message, "Log");
  assertEquals(reject(499).message, "Status 499");
  assertEquals(reject(302, { headers: { location: "/login" } }).status, 302);
  assertInstanceOf(reject(400), Error);
  for (const bad of [101, 200, 299, 600, 404.5, NaN]) {
    assertThrows(() => reject(bad), RangeError, undefined, String(bad));
  }
  assertThrows(() => reject(400, { headers: { "bad name": "x" } }), TypeError);
  assertThrows(() => reject(400, { headers: { a: "x\r\ny: z" } }), TypeError);
});

Deno.test("encodeRejection() sends the status, fields and UTF-8 body", () => {
  const bytes = encodeRejection(
    reject(429, {
      headers: { "Retry-After": "5", "Content-Length": "999", Connection: "x" },
      body: "Trop tôt",
    }),
  );
  const text = dec.decode(bytes);
  assertEquals(
    text,
    "HTTP/1.1 429 Too Many Requests\r\nConnection: x, close\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\n" +
      "retry-after: 5\r\n\r\nTrop tôt",
  );
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
