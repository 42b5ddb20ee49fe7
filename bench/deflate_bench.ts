/**
 * permessage-deflate: the two engines on a 4 KiB JSON-like message, alone and as a
 * compressed echo over loopback TCP.
 *
 * The echo group also runs `ws` from npm (client and server, `perMessageDeflate`
 * with its defaults but a threshold of 0) under Deno, as the reference.
 *
 * Run with `deno bench -A bench/deflate_bench.ts`.
 */

// @ts-types="npm:@types/ws@8.18.2"
import { WebSocket as WsClient, WebSocketServer } from "npm:ws@8.23.0";
import { Conn, OpCode, Rsv } from "../mod.ts";
import { compressionStreamEngine } from "../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../src/deflate/compressor.ts";
import { InflateOutput } from "../src/deflate/inflate_output.ts";
import { PerMessageDeflateConn } from "../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../src/deflate/zlib.ts";
import { MESSAGES } from "./_deflate_data.ts";

const ENGINES: [string, DeflateEngine, number][] = [
  ["CompressionStream", compressionStreamEngine(), 6],
  ["zlib level 6", zlibEngine(), 6],
  ["zlib level 1", zlibEngine(), 1],
];

for (const [name, engine, level] of ENGINES) {
  const compressor = engine.compressor({ level, windowBits: 15 });
  let i = 0;
  Deno.bench({
    name: `compress 4 KiB JSON: ${name}`,
    group: "compress",
    baseline: name === "CompressionStream",
    async fn() {
      await compressor.compress(MESSAGES[i++ & 63]);
    },
  });
}

for (const [name, engine] of ENGINES.slice(0, 2)) {
  // Independent messages (no takeover), so that any order inflates.
  const packed = await Promise.all(MESSAGES.map(async (m) => {
    const c = zlibEngine().compressor({ level: 6, windowBits: 15 });
    const out = (await c.compress(m)).slice();
    c.close();
    return out.subarray(0, out.length - 4);
  }));
  const inflater = engine.decompressor({ windowBits: 15 });
  const out = new InflateOutput();
  let i = 0;
  Deno.bench({
    name: `inflate 4 KiB JSON: ${name}`,
    group: "inflate",
    baseline: name === "CompressionStream",
    async fn() {
      out.start(1 << 20);
      await inflater.decompress(packed[i++ & 63], true, out);
    },
  });
}

async function echoPair(engine: DeflateEngine | null, level: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  const extensions = engine === null ? "" : "permessage-deflate";
  const base = (tcp: Deno.TcpConn, role: "client" | "server") =>
    new Conn(tcp, { role, rsvAllowed: Rsv.Rsv1, extensions });
  const wrap = (conn: Conn) =>
    engine === null
      ? conn
      : new PerMessageDeflateConn(conn, undefined, { engine, level });
  const client = wrap(base(a, "client"));
  const server = wrap(base(b, "server"));
  (async () => {
    for await (const msg of server) {
      await server.writeMessage(msg.opcode, msg.data);
    }
  })().catch(() => {});
  return client;
}

const ECHOES: [string, DeflateEngine | null, number][] = [
  ["uncompressed", null, 0],
  ...ENGINES,
];

for (const [name, engine, level] of ECHOES) {
  const client = await echoPair(engine, level);
  let i = 0;
  Deno.bench({
    name: `echo 4 KiB JSON over loopback: ${name}`,
    group: "echo",
    baseline: name === "CompressionStream",
    async fn() {
      await client.writeMessage(OpCode.Text, MESSAGES[i++ & 63]);
      await client.readMessage();
    },
  });
}

/** A ws client and a ws echo server, both with permessage-deflate. */
async function wsEchoPair(): Promise<WsClient> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: { threshold: 0 },
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (socket: WsClient) => {
    socket.on("message", (data: unknown, isBinary: boolean) => {
      socket.send(data as Uint8Array, { binary: isBinary });
    });
  });
  const { port } = wss.address() as { port: number };
  const ws = new WsClient(`ws://127.0.0.1:${port}`, {
    perMessageDeflate: { threshold: 0 },
  });
  await new Promise((resolve) => ws.once("open", resolve));
  return ws;
}

const ws = await wsEchoPair();
let next: (() => void) | null = null;
ws.on("message", () => next?.());
let w = 0;
Deno.bench({
  name: "echo 4 KiB JSON over loopback: ws (npm) perMessageDeflate",
  group: "echo",
  async fn() {
    const echoed = new Promise<void>((resolve) => next = resolve);
    ws.send(MESSAGES[w++ & 63]);
    await echoed;
  },
});
