/**
 * What each server entry point costs: the same echo server behind `serve()`,
 * `accept()` on a raw `Deno.listen`, `createNodeServer()` (a `node:http` upgrade),
 * the `upgradeWebSocket()` adapter over `Deno.serve`, and plain
 * `Deno.upgradeWebSocket` as the baseline. One client of ours (`dial()`) talks to
 * each over loopback.
 *
 * Two groups: a 32-byte echo round trip on an open connection, and a whole
 * connection (connect, handshake, one round trip, closing handshake).
 *
 * ```sh
 * deno bench -A bench/micro/entry_points_bench.ts
 * BENCH_SMOKE=1 deno run -A bench/micro/entry_points_bench.ts   # a few iterations each
 * ```
 *
 * @module
 */

import {
  accept,
  dial,
  type Message,
  OpCode,
  serve,
  upgradeWebSocket,
  type WebSocketConn,
} from "@wsx/websocket";
import { createNodeServer } from "@wsx/websocket/node";
import { bench, SMOKE, smokeFinished } from "./_bench.ts";

const HOST = "127.0.0.1";
const PAYLOAD = new Uint8Array(32).fill(0x61);
/** Connections per case in the whole-connection group (each leaves a TIME_WAIT). */
const CONNECTIONS = 300;

interface EntryPoint {
  name: string;
  url: string;
  stop(): Promise<void>;
}

async function echo(conn: WebSocketConn): Promise<void> {
  try {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  } catch {
    conn.abort(); // a client dropped at shutdown
  }
}

function viaServe(): EntryPoint {
  const server = serve({ hostname: HOST, port: 0, onListen() {} }, echo);
  return {
    name: "serve()",
    url: `ws://${HOST}:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}

function viaAccept(): EntryPoint {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const conns = new Set<WebSocketConn>();
  const loop = (async () => {
    for await (const tcp of listener) {
      accept(tcp).then(async (conn) => {
        conns.add(conn);
        await echo(conn);
        conns.delete(conn);
      }, () => {});
    }
  })();
  return {
    name: "accept() on Deno.listen",
    url: `ws://${HOST}:${listener.addr.port}`,
    async stop() {
      listener.close();
      await loop.catch(() => {});
      await Promise.all([...conns].map((conn) => conn.close()));
    },
  };
}

async function viaNode(): Promise<EntryPoint> {
  const conns = new Set<WebSocketConn>();
  const server = createNodeServer({
    fetch: () => new Response("WebSockets only", { status: 426 }),
    async websocket(conn) {
      conns.add(conn);
      await echo(conn);
      conns.delete(conn);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  return {
    name: "createNodeServer() (node:http upgrade)",
    url: `ws://${HOST}:${port}`,
    async stop() {
      await Promise.all([...conns].map((conn) => conn.close()));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function viaAdapter(): EntryPoint {
  const server = Deno.serve(
    { hostname: HOST, port: 0, onListen() {} },
    (req) => {
      const { response, conn } = upgradeWebSocket(req);
      echo(conn);
      return response;
    },
  );
  return {
    name: "upgradeWebSocket() adapter over Deno.serve",
    url: `ws://${HOST}:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}

function viaDeno(): EntryPoint {
  const server = Deno.serve(
    { hostname: HOST, port: 0, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  return {
    name: "Deno.upgradeWebSocket (baseline)",
    url: `ws://${HOST}:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}

/** An echo that is not the payload would make the figures meaningless. */
function check(msg: Message): void {
  if (msg.opcode !== OpCode.Binary || msg.data.length !== PAYLOAD.length) {
    throw new Error(
      `Unexpected echo: opcode ${msg.opcode}, ${msg.data.length} B`,
    );
  }
}

const entries = [
  viaDeno(),
  viaServe(),
  viaAccept(),
  await viaNode(),
  viaAdapter(),
];
const clients: WebSocketConn[] = [];

for (const entry of entries) {
  const client = await dial(entry.url);
  clients.push(client);
  bench({
    name: entry.name,
    group: "echo 32 B round trip",
    baseline: entry === entries[0],
    async fn() {
      await client.writeMessage(OpCode.Binary, PAYLOAD);
      check(await client.readMessage());
    },
  });
}

for (const entry of entries) {
  // Bounded: each iteration opens a connection, and the closed ones linger in
  // TIME_WAIT for a while.
  const def = {
    name: entry.name,
    group: "connect, one round trip, close",
    baseline: entry === entries[0],
    n: CONNECTIONS,
    warmup: 20,
    async fn() {
      const conn = await dial(entry.url);
      await conn.writeMessage(OpCode.Binary, PAYLOAD);
      check(await conn.readMessage());
      await conn.close();
    },
  };
  bench(def);
}

/** Closes the clients and stops every server, so that the process can end. */
async function stopAll(): Promise<void> {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(entries.map((entry) => entry.stop()));
}

if (SMOKE) {
  await smokeFinished();
  await stopAll();
}
