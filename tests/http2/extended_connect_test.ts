import { assertEquals, assertThrows } from "@std/assert";
import { Rejection } from "../../mod.ts";
import {
  acceptBlock,
  checkConnect,
  connectBlock,
  fieldsOf,
  isWebSocketConnect,
  rejectionBlock,
} from "../../src/http2/extended_connect.ts";

const VALID = {
  ":method": "CONNECT",
  ":protocol": "websocket",
  ":scheme": "https",
  ":path": "/chat?room=1",
  ":authority": "example.com:8443",
  "sec-websocket-version": "13",
};

function refusal(headers: Record<string, string | undefined>): Rejection {
  return assertThrows(() => checkConnect(headers), Rejection);
}

Deno.test("checkConnect: a valid request, as hooks see it", () => {
  const { request, extensions } = checkConnect({
    ...VALID,
    "sec-websocket-protocol": "chat, superchat",
    "sec-websocket-extensions": "permessage-deflate",
    origin: "https://example.com",
  });
  assertEquals(request.method, "CONNECT");
  assertEquals(request.target, "/chat?room=1");
  assertEquals(request.version, "HTTP/2");
  assertEquals(request.headers.get("host"), "example.com:8443");
  assertEquals(request.headers.get("origin"), "https://example.com");
  assertEquals(
    [...request.headers.keys()].some((k) => k.startsWith(":")),
    false,
  );
  assertEquals(request.protocols, ["chat", "superchat"]);
  assertEquals(extensions, "permessage-deflate");
});

Deno.test("checkConnect: RFC 8441 §4-5 violations are refused", () => {
  assertEquals(refusal({ ...VALID, ":method": "GET" }).status, 405);
  assertEquals(refusal({ ...VALID, ":protocol": undefined }).status, 400);
  assertEquals(refusal({ ...VALID, ":protocol": "webtransport" }).status, 400);
  assertEquals(refusal({ ...VALID, ":scheme": undefined }).status, 400);
  assertEquals(refusal({ ...VALID, ":scheme": "ftp" }).status, 400);
  assertEquals(refusal({ ...VALID, ":path": "" }).status, 400);
  assertEquals(refusal({ ...VALID, ":authority": undefined }).status, 400);
  const version = refusal({ ...VALID, "sec-websocket-version": "8" });
  assertEquals(version.status, 400);
  assertEquals(version.headers.get("sec-websocket-version"), "13");
  assertEquals(
    refusal({ ...VALID, "sec-websocket-version": undefined }).status,
    400,
  );
  assertEquals(
    refusal({ ...VALID, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" })
      .status,
    400,
  );
  assertEquals(refusal({ ...VALID, "sec-websocket-accept": "x" }).status, 400);
  assertEquals(
    refusal({ ...VALID, "sec-websocket-protocol": "a b" }).status,
    400,
  );
});

Deno.test("isWebSocketConnect tells WebSocket CONNECTs from the rest", () => {
  assertEquals(isWebSocketConnect(VALID), true);
  assertEquals(
    isWebSocketConnect({ ...VALID, ":protocol": "WebSocket" }),
    true,
  );
  assertEquals(isWebSocketConnect({ ":method": "CONNECT" }), false);
  assertEquals(isWebSocketConnect({ ":method": "GET", ":path": "/" }), false);
});

Deno.test("acceptBlock: 200 with the agreement; forbidden and owned fields", () => {
  assertEquals(
    acceptBlock({
      protocol: "chat",
      extensions: "permessage-deflate",
      headers: new Headers({ "x-id": "7", "keep-alive": "timeout=5" }),
    }),
    {
      ":status": 200,
      "sec-websocket-protocol": "chat",
      "sec-websocket-extensions": "permessage-deflate",
      "x-id": "7",
    },
  );
  assertEquals(acceptBlock({}), { ":status": 200 });
  assertThrows(
    () =>
      acceptBlock({ headers: new Headers({ "sec-websocket-protocol": "x" }) }),
    TypeError,
  );
});

Deno.test("rejectionBlock: status, fields, no connection-specific ones", () => {
  const block = rejectionBlock(
    new Rejection(426, { headers: { Upgrade: "websocket", "x-why": "old" } }),
  );
  assertEquals(block, {
    ":status": 426,
    "content-type": "text/plain; charset=utf-8",
    "x-why": "old",
  });
});

Deno.test("connectBlock: the client's request for ws: and wss: URLs", () => {
  assertEquals(
    connectBlock(new URL("ws://127.0.0.1:8080/a?b=c"), {
      protocols: ["v1", "v2"],
      extensions: "permessage-deflate",
      headers: new Headers({ authorization: "Bearer t" }),
    }),
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "http",
      ":path": "/a?b=c",
      ":authority": "127.0.0.1:8080",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "v1, v2",
      "sec-websocket-extensions": "permessage-deflate",
      authorization: "Bearer t",
    },
  );
  assertEquals(connectBlock(new URL("wss://h/"), {})[":scheme"], "https");
  assertThrows(
    () =>
      connectBlock(new URL("wss://h/"), {
        headers: new Headers({ host: "x" }),
      }),
    TypeError,
  );
});

Deno.test("fieldsOf: regular fields only, repeated ones kept", () => {
  const fields = fieldsOf({ ...VALID, cookie: ["a=1", "b=2"], "x-a": "1" });
  assertEquals([...fields.keys()], ["cookie", "sec-websocket-version", "x-a"]);
  assertEquals(fields.get("cookie"), "a=1, b=2");
});
