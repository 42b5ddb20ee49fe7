import { assertEquals, assertRejects } from "@std/assert";
import { createSecureServer } from "node:http2";
import { acceptNode, createNodeServer } from "../../node.ts";
import { dial, HandshakeError, OpCode } from "../../mod.ts";
import { dialHttp2, Http2Agent } from "../../http2.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import { dec } from "../_wire.ts";
import { echo, startServer } from "./_servers.ts";

async function roundTrip(conn: Awaited<ReturnType<typeof dial>>) {
  await conn.writeMessage(OpCode.Text, "ping");
  assertEquals(dec((await conn.readMessage()).data), "ping");
  await conn.close();
}

Deno.test("dial(url, { http2: true }) opens the WebSocket as an HTTP/2 stream", async () => {
  await using s = await startServer();
  await roundTrip(await dial(s.wsUrl, { http2: true }));
  assertEquals(s.arrivals.map((a) => a.httpVersion), ["2"]);
});

Deno.test("an agent keeps one connection per origin for all its WebSockets", async () => {
  await using s = await startServer({ tls: true });
  const agent = new Http2Agent();
  const conns = await Promise.all(
    [1, 2, 3, 4].map(() =>
      dial(`${s.wsUrl}/x`, { http2: agent, caCerts: [CA_CERT] })
    ),
  );
  assertEquals(agent.size, 1);
  await Promise.all(conns.map(roundTrip));
  const sessions = new Set(s.arrivals.map((a) => a.session));
  assertEquals(sessions.size, 1);
  assertEquals(s.arrivals.map((a) => a.streamId).sort(), [1, 3, 5, 7]);
  agent.close();
});

Deno.test("without an agent, each WebSocket has a connection that ends with it", async () => {
  await using s = await startServer();
  const a = await dialHttp2(s.wsUrl);
  const b = await dialHttp2(s.wsUrl);
  assertEquals(s.arrivals[0].session === s.arrivals[1].session, false);
  const closed = new Promise((resolve) =>
    s.arrivals[0].session!.once("close", resolve)
  );
  await roundTrip(a);
  await closed;
  await roundTrip(b);
});

Deno.test("falls back to HTTP/1.1 when the server does not speak HTTP/2", async () => {
  const server = createNodeServer({
    fetch: () => new Response(),
    websocket: echo,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const agent = new Http2Agent();
  await roundTrip(await dial(`ws://127.0.0.1:${port}/`, { http2: agent }));
  await roundTrip(await dialHttp2(`ws://127.0.0.1:${port}/`));
  agent.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

Deno.test("falls back to HTTP/1.1 when HTTP/2 does not allow extended CONNECT", async () => {
  // An HTTP/2 server without SETTINGS_ENABLE_CONNECT_PROTOCOL, upgrades on HTTP/1.1.
  const server = createSecureServer({
    cert: SERVER_CERT,
    key: SERVER_KEY,
    allowHTTP1: true,
  });
  let upgrades = 0;
  server.on("upgrade", async (req, socket, head) => {
    upgrades++;
    await echo(await acceptNode(req, socket, head));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await roundTrip(
    await dial(`wss://localhost:${port}/`, { http2: true, caCerts: [CA_CERT] }),
  );
  assertEquals(upgrades, 1);
  await new Promise((resolve) => server.close(resolve));
});

Deno.test("an HTTP/2 refusal rejects with the server's status", async () => {
  await using s = await startServer({
    onHost: () => {
      throw new Error("hook broke");
    },
  });
  const err = await assertRejects(
    () => dial(s.wsUrl, { http2: true }),
    HandshakeError,
  );
  assertEquals(err.status, 500);
  const hung = await startServer({ onRequest: () => new Promise(() => {}) });
  const slow = await assertRejects(
    () => dialHttp2(hung.wsUrl, { timeout: 200 }),
    HandshakeError,
  );
  assertEquals(slow.status, 0);
  await hung.close();
});

Deno.test("dialHttp2 refuses other schemes and bad subprotocols", async () => {
  await assertRejects(() => dialHttp2("ftp://x/"), TypeError);
  await assertRejects(
    () => dialHttp2("ws://127.0.0.1:1/", { protocols: ["a b"] }),
    TypeError,
  );
});
