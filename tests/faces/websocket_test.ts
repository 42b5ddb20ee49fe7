/**
 * The `WebSocket` face: the shared behaviour suite on this module's class and on
 * Deno's built-in one, then what only ours does (compression, options).
 *
 * @module
 */

import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { OpCode, serve, WebSocketError } from "../../mod.ts";
import { WebSocket as OurWebSocket } from "../../web.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import { startPeer } from "./_peer.ts";
import { startSniffer } from "./_sniffer.ts";
import {
  next,
  record,
  waitUntil,
  websocketBehaviour,
} from "./_websocket_behaviour.ts";

// Where Deno 2.9's class departs from the standard: abnormal closures report
// code 0 (not 1006), MessageEvent.origin is the socket's URL (not its origin),
// and a send after close() is not counted in bufferedAmount.
websocketBehaviour("built-in", globalThis.WebSocket, {
  abnormalCode: 0,
  originIsUrl: true,
  lateSendsUncounted: true,
});
websocketBehaviour("ours", OurWebSocket);

// Ours is assignable wherever the built-in class is expected (type check only).
const _assignable: typeof globalThis.WebSocket = OurWebSocket;

Deno.test("[ours] compression is negotiated by default and seen on the wire", async () => {
  await using peer = startPeer();
  await using sniffer = startSniffer(peer.server.addr.port);
  const ws = new OurWebSocket(`ws://127.0.0.1:${sniffer.port}/echo`);
  await next(ws, "open");
  assert(ws.extensions.startsWith("permessage-deflate"), ws.extensions);
  const text = "compress me ".repeat(100);
  const echoed = next<MessageEvent>(ws, "message");
  ws.send(text);
  assertEquals((await echoed).data, text);
  ws.close();
  await next(ws, "close");
  const up = sniffer.seen.up.filter((f) => f.opcode === 1);
  const down = sniffer.seen.down.filter((f) => f.opcode === 1);
  assertEquals([up[0].rsv1, down[0].rsv1], [true, true]);
  assert(up[0].length < text.length / 4, `${up[0].length} bytes on the wire`);
});

Deno.test("[ours] options: deflate off, headers, protocols in the second argument", async () => {
  let auth: string | null = null;
  await using server = serve({
    hostname: "127.0.0.1",
    port: 0,
    deflate: true,
    protocols: ["v2"],
    onListen() {},
    onRequest(req) {
      auth = req.headers.get("authorization");
    },
  }, async (conn) => {
    for await (const _ of conn); // answers the close
  });
  const ws = new OurWebSocket(`ws://127.0.0.1:${server.addr.port}/`, {
    protocols: ["v2"],
    headers: { authorization: "Bearer t0ken" },
    deflate: false,
  });
  await next(ws, "open");
  assertEquals([ws.protocol, ws.extensions, auth], ["v2", "", "Bearer t0ken"]);
  ws.close();
  await next(ws, "close");
});

Deno.test("[ours] an aborted signal fails an open connection: error, then close 1006", async () => {
  await using peer = startPeer();
  const controller = new AbortController();
  const ws = new OurWebSocket(`${peer.url}/echo`, undefined, {
    signal: controller.signal,
  });
  const seen = record(ws);
  await next(ws, "open");
  controller.abort(new Error("enough"));
  const e = await next<CloseEvent>(ws, "close");
  assertEquals(seen.map((s) => s.type), ["open", "error", "close"]);
  assertEquals((seen[1].event as ErrorEvent).message, "enough");
  assertEquals([e.wasClean, e.code], [false, 1006]);
});

Deno.test("[ours] a message over readLimit fails the connection: error says 1009, close 1006", async () => {
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, onError() {} },
    async (conn) => {
      await conn.writeMessage(OpCode.Binary, new Uint8Array(2048));
      for await (const _ of conn); // until the client fails the connection
    },
  );
  const ws = new OurWebSocket(
    `ws://127.0.0.1:${server.addr.port}/`,
    undefined,
    {
      readLimit: 1024,
    },
  );
  const seen = record(ws);
  const e = await next<CloseEvent>(ws, "close");
  assertEquals(seen.map((s) => s.type), ["open", "error", "close"]);
  const error = (seen[1].event as ErrorEvent).error;
  assertInstanceOf(error, WebSocketError);
  assertEquals([error.code, error.closeCode], ["message_too_big", 1009]);
  assertEquals([e.wasClean, e.code], [false, 1006]);
});

Deno.test("[ours] a large Blob, text after it and the close leave in send order", async () => {
  await using peer = startPeer();
  const ws = new OurWebSocket(`${peer.url}/echo`);
  ws.binaryType = "arraybuffer";
  await next(ws, "open");
  const big = new Uint8Array(300_000).map((_, i) => i % 251);
  const got: unknown[] = [];
  ws.onmessage = (e) => got.push(e.data);
  ws.send(new Blob([big]));
  ws.send("after");
  assertEquals(ws.bufferedAmount, big.length + 5);
  ws.close(4002, "end");
  const e = await next<CloseEvent>(ws, "close");
  assertEquals(e.code, 4002);
  await waitUntil(() => peer.closes.length === 1);
  assertEquals(peer.closes[0], { code: 4002, reason: "end" });
  // Messages that arrive once close() was called are not dispatched (CLOSING).
  assertEquals(got, []);
  assertEquals(ws.bufferedAmount, 0);
});

Deno.test("[ours] wss: the caCerts option trusts a private CA; without it the handshake fails", async () => {
  await using server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: SERVER_CERT,
    key: SERVER_KEY,
    deflate: true,
    onListen() {},
    onError() {},
  }, async (conn) => {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  });
  const url = `wss://localhost:${server.addr.port}/`;
  const ws = new OurWebSocket(url, undefined, { caCerts: [CA_CERT] });
  await next(ws, "open");
  assert(ws.extensions.startsWith("permessage-deflate"));
  const echoed = next<MessageEvent>(ws, "message");
  ws.send("over TLS");
  assertEquals((await echoed).data, "over TLS");
  ws.close();
  assertEquals((await next<CloseEvent>(ws, "close")).wasClean, true);
  const untrusted = new OurWebSocket(url);
  const seen = record(untrusted);
  const e = await next<CloseEvent>(untrusted, "close");
  assertEquals(seen.map((s) => s.type), ["error", "close"]);
  assertEquals(e.code, 1006);
});
