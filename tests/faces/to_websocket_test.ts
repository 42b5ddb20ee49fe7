/**
 * The server side of the `WebSocket` face: `toWebSocket` over connections of
 * `serve`, `accept` and the `node:http` adapter, and the migration example that
 * runs one `Deno.upgradeWebSocket` handler on both servers.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { accept, type WebSocketConn } from "../../mod.ts";
import { createNodeServer } from "../../node.ts";
import { toWebSocket, WebSocket as OurWebSocket } from "../../web.ts";
import { after, before } from "../../examples/migrate_upgrade_websocket.ts";
import { next } from "./_websocket_behaviour.ts";

/** Two members join the room, each says something; what each one heard. */
async function chatTranscript(port: number): Promise<{
  heard: string[][];
  extensions: string[];
}> {
  const url = `ws://127.0.0.1:${port}/`;
  const a = new OurWebSocket(url);
  const heardA: string[] = [];
  a.onmessage = (e) => heardA.push(e.data);
  await next(a, "open");
  await waitFor(() => heardA.length === 1);
  const b = new OurWebSocket(url);
  const heardB: string[] = [];
  b.onmessage = (e) => heardB.push(e.data);
  await next(b, "open");
  await waitFor(() => heardB.length === 1);
  a.send("hello");
  await waitFor(() => heardA.length === 2 && heardB.length === 2);
  b.send("hi a");
  await waitFor(() => heardA.length === 3 && heardB.length === 3);
  for (const ws of [a, b]) {
    const closed = next(ws, "close");
    ws.close();
    await closed;
  }
  return { heard: [heardA, heardB], extensions: [a.extensions, b.extensions] };
}

Deno.test("migration example: one Deno.upgradeWebSocket handler, same transcript on Deno.serve and on serve", async () => {
  const denoServer = before(0);
  const viaDeno = await chatTranscript(denoServer.addr.port);
  await denoServer.shutdown();
  const ourServer = after(0);
  const viaOurs = await chatTranscript(ourServer.addr.port);
  await ourServer.shutdown();
  const expected = [
    ["welcome 1", "1: hello", "2: hi a"],
    ["welcome 2", "1: hello", "2: hi a"],
  ];
  assertEquals(viaDeno.heard, expected);
  assertEquals(viaOurs.heard, expected);
  assertEquals(viaDeno.extensions, ["", ""]);
  for (const ext of viaOurs.extensions) {
    assert(ext.startsWith("permessage-deflate"), ext);
  }
});

/** A handler in the `Deno.upgradeWebSocket` style that logs what it sees. */
function loggingEcho(socket: WebSocket, log: string[]): void {
  log.push(`created ${socket.readyState}`);
  socket.onopen = () =>
    log.push(`open ${socket.readyState} ${socket.protocol}`);
  socket.onmessage = (e) => {
    if (e.data === "bye") socket.close(4000, "server says bye");
    else socket.send(e.data);
  };
  socket.onclose = (e) => log.push(`close ${e.code} ${e.wasClean}`);
}

async function exercise(port: number, log: string[]): Promise<void> {
  const ws = new OurWebSocket(`ws://127.0.0.1:${port}/`, ["chat"]);
  ws.binaryType = "arraybuffer";
  await next(ws, "open");
  const echoed = next<MessageEvent>(ws, "message");
  ws.send(new Uint8Array([1, 2, 3]));
  assertEquals(new Uint8Array((await echoed).data), new Uint8Array([1, 2, 3]));
  const closed = next<CloseEvent>(ws, "close");
  ws.send("bye");
  const e = await closed;
  assertEquals([e.code, e.reason, e.wasClean], [4000, "server says bye", true]);
  await waitFor(() => log.length === 3);
  assertEquals(log, ["created 0", "open 1 chat", "close 4000 true"]);
}

Deno.test("toWebSocket over accept on a raw listener", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log: string[] = [];
  let conn: WebSocketConn | undefined;
  const serving = (async () => {
    conn = await accept(await listener.accept(), {
      protocols: ["chat"],
      deflate: true,
    });
    loggingEcho(toWebSocket(conn, "ws://127.0.0.1/"), log);
    await conn.closed;
  })();
  await exercise(listener.addr.port, log);
  await serving;
  assert(conn!.extensions.startsWith("permessage-deflate"));
  listener.close();
});

Deno.test("toWebSocket over the node:http adapter", async () => {
  const log: string[] = [];
  const server = createNodeServer({
    fetch: () => new Response("page"),
    protocols: ["chat"],
    deflate: true,
    websocket: async (conn, request) => {
      loggingEcho(toWebSocket(conn, request.url), log);
      await conn.closed;
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await exercise(port, log);
  await new Promise((resolve) => server.close(resolve));
});

Deno.test("toWebSocket: the socket's url, and a client that leaves is a clean close", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = new OurWebSocket(`ws://127.0.0.1:${listener.addr.port}/room`);
  const clientOpen = next(client, "open");
  const conn = await accept(await listener.accept());
  const socket = toWebSocket(
    conn,
    `http://127.0.0.1:${listener.addr.port}/room`,
  );
  assertEquals(socket.url, `ws://127.0.0.1:${listener.addr.port}/room`);
  assertEquals(socket.readyState, OurWebSocket.CONNECTING);
  await next(socket, "open");
  await clientOpen;
  const serverSide = next<CloseEvent>(socket, "close");
  client.close(3001, "gone");
  const e = await serverSide;
  assertEquals([e.code, e.reason, e.wasClean], [3001, "gone", true]);
  await next(client, "close");
  listener.close();
});

Deno.test("toWebSocket: open comes a task later, so handlers set after an await still see it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = new OurWebSocket(`ws://127.0.0.1:${listener.addr.port}/`);
  const clientOpen = next(client, "open");
  const socket = toWebSocket(await accept(await listener.accept()));
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(socket.readyState, OurWebSocket.CONNECTING);
  await next(socket, "open");
  await clientOpen;
  const closed = next(socket, "close");
  client.close();
  await closed;
  await next(client, "close");
  listener.close();
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert(cond(), "condition not met within 3 s");
}
