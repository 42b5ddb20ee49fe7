/**
 * Memory per connection with permessage-deflate: for each engine and takeover
 * mode, a server process accepts N loopback connections from a client process;
 * each connection exchanges one 4 KiB JSON message both ways (so that both
 * compressors and decompressors exist), then idles with a read pending. The
 * server reports its `Deno.memoryUsage()` after a full GC, before the first
 * connection and once all are idle.
 *
 * Run with `deno run -A bench/harness/deflate_memory.ts [--connections 1000]`, or
 * `--smoke` (20 connections) for a quick check that every configuration works.
 * The per-connection figures are `(idle - before) / N`; "Δ" columns subtract the
 * uncompressed configuration's.
 *
 * @module
 */

import { accept, dial, OpCode } from "@wsx/websocket";
import type { DataOpCode, WebSocketConn } from "@wsx/websocket";
import {
  compressionStreamEngine,
  type DeflateOptions,
  zlibEngine,
} from "@wsx/websocket/deflate";
import { MESSAGES } from "../_deflate_data.ts";
import { Flags } from "./_args.ts";
import { startDeno } from "./_process.ts";

const NO_TAKEOVER = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
};

/** The configurations, by name: the `deflate` option of both ends. */
export const CONFIGS: Record<string, () => DeflateOptions | false> = {
  "uncompressed": () => false,
  "CompressionStream, takeover": () => ({ engine: compressionStreamEngine() }),
  "CompressionStream, no takeover": () => ({
    engine: compressionStreamEngine(),
    ...NO_TAKEOVER,
  }),
  "zlib, takeover": () => ({ engine: zlibEngine() }),
  "zlib, no takeover": () => ({ engine: zlibEngine(), ...NO_TAKEOVER }),
  "zlib memLevel 4, 12-bit server window, takeover": () => ({
    engine: zlibEngine({ memLevel: 4 }),
    serverMaxWindowBits: 12,
  }),
};

/** What the server process reports, in bytes. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
}

/** One configuration's result. */
export interface MemoryResult {
  config: string;
  connections: number;
  before: MemorySample;
  idle: MemorySample;
}

const TIMEOUT_MS = 120_000;

function sample(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const { rss, heapUsed, external } = Deno.memoryUsage();
  return { rss, heapUsed, external };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server process: prints its port, then one line of JSON with the samples. */
async function serve(config: string, n: number, idleMs: number): Promise<void> {
  const deflate = CONFIGS[config]();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await settle(idleMs / 3);
  const before = sample();
  console.log(JSON.stringify({ port: listener.addr.port }));
  const conns: WebSocketConn[] = [];
  const loops: Promise<void>[] = [];
  let exchanged = 0;
  const { promise: all, resolve } = Promise.withResolvers<void>();
  for (let i = 0; i < n; i++) {
    const conn = await accept(await listener.accept(), { deflate });
    if (deflate !== false && conn.extensions === "") {
      throw new Error("permessage-deflate was not negotiated");
    }
    conns.push(conn);
    loops.push((async () => {
      for await (const msg of conn) {
        await conn.writeMessage(msg.opcode as DataOpCode, msg.data);
        if (++exchanged === n) resolve();
      }
    })());
  }
  listener.close();
  await all;
  await settle(idleMs);
  const idle = sample();
  console.log(JSON.stringify({ before, idle }));
  await Promise.all(conns.map((c) => c.close().catch(() => {})));
  await Promise.allSettled(loops);
}

/** The client process: N connections, one echo each, then idle until closed. */
async function client(config: string, port: number, n: number): Promise<void> {
  const deflate = CONFIGS[config]();
  const conns: WebSocketConn[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(await dial(`ws://127.0.0.1:${port}/`, { deflate }));
  }
  await Promise.all(conns.map(async (conn, i) => {
    const message = MESSAGES[i & 63];
    await conn.writeMessage(OpCode.Text, message);
    const echo = await conn.readMessage();
    if (echo.data.length !== message.length) {
      throw new Error(
        `echo of ${echo.data.length} bytes, not ${message.length}`,
      );
    }
    for await (const _ of conn) throw new Error("unexpected message");
  }));
}

/**
 * Runs one configuration: a server process and a client process with `n`
 * connections between them; returns the server's samples.
 */
export async function measure(
  config: string,
  n: number,
  idleMs = 300,
): Promise<MemoryResult> {
  const self = import.meta.filename!;
  const server = startDeno(self, {
    args: [
      "--serve",
      config,
      "--connections",
      String(n),
      "--idle-ms",
      String(idleMs),
    ],
  });
  try {
    const port = await server.port(TIMEOUT_MS);
    const client = startDeno(self, {
      args: [
        "--client",
        config,
        "--port",
        String(port),
        "--connections",
        String(n),
      ],
      stdout: "inherit",
      exposeGc: false,
    });
    try {
      const { before, idle } = await server.nextJson<
        { before: MemorySample; idle: MemorySample }
      >(TIMEOUT_MS);
      const [s, c] = await Promise.all([
        server.exited(TIMEOUT_MS),
        client.exited(TIMEOUT_MS),
      ]);
      if (!s.success || !c.success) {
        throw new Error(
          `${config}: server exit ${s.code}, client exit ${c.code}`,
        );
      }
      return { config, connections: n, before, idle };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

const KIB = 1024;

/** A markdown table of per-connection figures, in KiB. */
export function memoryTable(results: MemoryResult[]): string {
  const per = (r: MemoryResult, k: keyof MemorySample) =>
    (r.idle[k] - r.before[k]) / r.connections / KIB;
  const base = results.find((r) => r.config === "uncompressed");
  const delta = (r: MemoryResult, k: keyof MemorySample) =>
    base === undefined ? "n/a" : (per(r, k) - per(base, k)).toFixed(1);
  const lines = [
    "| configuration | RSS/conn KiB | heap/conn KiB | external/conn KiB | Δ RSS KiB | Δ heap KiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.config} | ${per(r, "rss").toFixed(1)} | ${
        per(r, "heapUsed").toFixed(1)
      } | ${per(r, "external").toFixed(1)} | ${delta(r, "rss")} | ${
        delta(r, "heapUsed")
      } |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const flags = new Flags();
  const smoke = flags.has("smoke");
  const connections = flags.number("connections", 1000, 1, 10_000);
  if (!Number.isInteger(connections)) {
    throw new RangeError(
      `--connections must be an integer, got ${connections}`,
    );
  }
  const n = smoke ? 20 : connections;
  // The child processes' roles.
  const serveConfig = flags.string("serve");
  const clientConfig = flags.string("client");
  if (serveConfig !== undefined) {
    const idleMs = flags.number("idle-ms", 300);
    flags.done();
    await serve(serveConfig, n, idleMs);
  } else if (clientConfig !== undefined) {
    const port = flags.number("port", NaN, 1, 65535);
    flags.done();
    await client(clientConfig, port, n);
  } else {
    flags.done();
    const results: MemoryResult[] = [];
    for (const config of Object.keys(CONFIGS)) {
      results.push(await measure(config, n, smoke ? 30 : 300));
    }
    console.log(
      `Server memory per idle connection after one 4 KiB JSON echo, ${n} connections, Deno ${Deno.version.deno}:\n`,
    );
    console.log(memoryTable(results));
  }
}
