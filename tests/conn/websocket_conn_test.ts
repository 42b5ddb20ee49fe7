/**
 * What every connection of the `WebSocketConn` interface offers whichever entry
 * point made it: the peer's and its own address, checked over loopback sockets
 * against the ports the other end sees.
 */

import { assert, assertEquals } from "@std/assert";
import { createServer } from "node:http";
import { accept } from "../../src/handshake/accept.ts";
import { dial } from "../../src/handshake/dial.ts";
import { serve } from "../../src/servers/serve.ts";
import { acceptNode } from "../../src/servers/node_upgrade.ts";
import { upgradeWebSocket } from "../../src/servers/deno_upgrade.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { memoryConnPair } from "../_pair.ts";

function portOf(addr: Deno.Addr | null): number {
  assert(
    addr !== null && addr.transport === "tcp",
    `a TCP address: ${JSON.stringify(addr)}`,
  );
  return (addr as Deno.NetAddr).port;
}

/** Asserts that the two ends of one connection see each other's ports. */
function assertCrossed(
  server: WebSocketConn,
  client: WebSocketConn,
  port: number,
) {
  assertEquals(portOf(server.localAddr), port);
  assertEquals(portOf(client.remoteAddr), port);
  assertEquals(portOf(server.remoteAddr), portOf(client.localAddr));
  assert(portOf(client.localAddr) !== port);
}

Deno.test("accept and dial: both conns know both addresses", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const [server, client] = await Promise.all([
    listener.accept().then((tcp) => accept(tcp)),
    dial(`ws://127.0.0.1:${port}/`),
  ]);
  assertCrossed(server, client, port);
  assertEquals((server.remoteAddr as Deno.NetAddr).hostname, "127.0.0.1");
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
  listener.close();
});

Deno.test("serve: the handler's conn has the client's address; deflate keeps it", async () => {
  let seen: WebSocketConn | undefined;
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, deflate: true },
    async (conn) => {
      seen = conn;
      await conn.readMessage().catch(() => {});
    },
  );
  const client = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
    deflate: true,
  });
  assertEquals(client.extensions.startsWith("permessage-deflate"), true);
  for (let i = 0; i < 50 && seen === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertCrossed(seen!, client, server.addr.port);
  await client.close();
  await server.shutdown();
});

Deno.test("acceptNode: the conn has the node socket's addresses", async () => {
  const conns: Promise<WebSocketConn>[] = [];
  const server = createServer();
  server.on(
    "upgrade",
    (req, socket, head) => conns.push(acceptNode(req, socket, head)),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = await dial(`ws://127.0.0.1:${port}/`);
  const conn = await conns[0];
  assertCrossed(conn, client, port);
  await Promise.all([client.close(), conn.readMessage().catch(() => {})]);
  await new Promise((resolve) => server.close(resolve));
});

Deno.test("upgradeWebSocket: the addresses passed from Deno.serve", async () => {
  const conns: WebSocketConn[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => {
      const { response, conn } = upgradeWebSocket(req, {
        remoteAddr: info.remoteAddr,
        localAddr: server.addr,
      });
      conns.push(conn);
      return response;
    },
  );
  const client = await dial(`ws://127.0.0.1:${server.addr.port}/`);
  assertCrossed(conns[0], client, server.addr.port);
  await client.close();
  await server.shutdown();
});

Deno.test("a conn over a stream pair has no addresses", async () => {
  const { client, server } = memoryConnPair();
  assertEquals([client.remoteAddr, client.localAddr], [null, null]);
  assertEquals(server.remoteAddr, null);
  client.abort();
  server.abort();
  await Promise.all([client.closed, server.closed]);
});
