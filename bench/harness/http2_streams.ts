/**
 * WebSockets as HTTP/2 streams against WebSockets on their own TCP connections:
 * `deno run -A --v8-flags=--expose-gc bench/harness/http2_streams.ts
 * [--connections 1000] [--sessions 4] [--messages 10] [--rounds 3]`.
 *
 * Each round starts a fresh server process (`createHttp2Server`, cleartext: h2c
 * and HTTP/1.1 on one port, echoing) and, from this process, opens N WebSockets:
 * either as streams spread over a few HTTP/2 connections (one `Http2Agent` per
 * connection) or each on its own TCP connection (`dial`). It reports the set-up
 * time, the server's memory per WebSocket (resident set, JS heap and external
 * memory after a garbage collection, before and after opening), and the echo
 * rate with every WebSocket sending `messages` 64-byte messages one after the
 * other, all at once. Rounds alternate (h2, tcp, h2, tcp…) and medians are
 * printed.
 *
 * @module
 */

import { dial, OpCode, type WebSocketConn } from "@wsx/websocket";
import { createHttp2Server, Http2Agent } from "@wsx/websocket/http2";
import { parseArgs } from "node:util";

interface Memory {
  rss: number;
  heap: number;
  external: number;
}

interface Result {
  setupMs: number;
  perSocket: Memory;
  echoPerSecond: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function memory(): Memory {
  gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

/** The server process: echoes, and answers `/mem` with its memory. */
async function serve(): Promise<void> {
  const server = createHttp2Server({
    fetch: () => Response.json(memory()),
    websocket: async (conn) => {
      for await (const m of conn) await conn.writeMessage(m.opcode, m.data);
    },
    onError: () => {},
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log(`port ${(server.address() as { port: number }).port}`);
}

async function startServer(): Promise<
  { port: number; child: Deno.ChildProcess }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--serve",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { port: Number(/port (\d+)/.exec(text)![1]), child };
}

async function serverMemory(port: number): Promise<Memory> {
  const res = await fetch(`http://127.0.0.1:${port}/mem`);
  return await res.json();
}

async function openAll(
  mode: "h2" | "tcp",
  url: string,
  count: number,
  agents: Http2Agent[],
): Promise<WebSocketConn[]> {
  const conns: WebSocketConn[] = [];
  for (let at = 0; at < count; at += 100) {
    const batch = Array.from(
      { length: Math.min(100, count - at) },
      (_, i) =>
        mode === "h2"
          ? dial(url, { http2: agents[(at + i) % agents.length] })
          : dial(url),
    );
    conns.push(...await Promise.all(batch));
  }
  return conns;
}

async function echoAll(conns: WebSocketConn[], messages: number) {
  const payload = new Uint8Array(64).fill(42);
  await Promise.all(conns.map(async (conn) => {
    for (let i = 0; i < messages; i++) {
      await conn.writeMessage(OpCode.Binary, payload);
      await conn.readMessage();
    }
  }));
}

async function round(
  mode: "h2" | "tcp",
  count: number,
  sessions: number,
  messages: number,
): Promise<Result> {
  const { port, child } = await startServer();
  const agents = Array.from({ length: sessions }, () => new Http2Agent());
  try {
    const url = `ws://127.0.0.1:${port}/`;
    // Warm-up: code compiled on first use is not counted.
    const warm = await openAll(mode, url, 20, agents);
    await echoAll(warm, 2);
    const before = await serverMemory(port);
    const t0 = performance.now();
    const conns = await openAll(mode, url, count, agents);
    const setupMs = performance.now() - t0;
    const after = await serverMemory(port);
    const t1 = performance.now();
    await echoAll(conns, messages);
    const echoMs = performance.now() - t1;
    await Promise.all([...warm, ...conns].map((c) => c.close()));
    return {
      setupMs,
      perSocket: {
        rss: (after.rss - before.rss) / count,
        heap: (after.heap - before.heap) / count,
        external: (after.external - before.external) / count,
      },
      echoPerSecond: count * messages / (echoMs / 1000),
    };
  } finally {
    for (const agent of agents) agent.close();
    child.kill("SIGTERM");
    await child.status;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "boolean", default: false },
      connections: { type: "string", default: "1000" },
      sessions: { type: "string", default: "4" },
      messages: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
    },
  });
  if (values.serve) return await serve();
  const count = Number(values.connections);
  const sessions = Number(values.sessions);
  const messages = Number(values.messages);
  const results: Record<"h2" | "tcp", Result[]> = { h2: [], tcp: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const mode of ["h2", "tcp"] as const) {
      const result = await round(mode, count, sessions, messages);
      results[mode].push(result);
      console.error(`${mode} round ${r + 1}: ${JSON.stringify(result)}`);
    }
  }
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `| ${count} WebSockets | set-up | server RSS / WebSocket | JS heap / WebSocket | external / WebSocket | echo round trips/s |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const mode of ["h2", "tcp"] as const) {
    const rs = results[mode];
    const label = mode === "h2"
      ? `HTTP/2 streams on ${sessions} connections`
      : `${count} TCP connections`;
    console.log(
      `| ${label} | ${median(rs.map((r) => r.setupMs)).toFixed(0)} ms | ${
        kib(median(rs.map((r) => r.perSocket.rss)))
      } | ${kib(median(rs.map((r) => r.perSocket.heap)))} | ${
        kib(median(rs.map((r) => r.perSocket.external)))
      } | ${median(rs.map((r) => r.echoPerSecond)).toFixed(0)} |`,
    );
  }
}

if (import.meta.main) await main();
