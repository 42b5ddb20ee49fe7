/**
 * Soak test: `deno task soak [--duration 300] [--connections 1000] [--smoke]
 * [--json]`.
 *
 * Our `serve()` echo server runs in its own process. This process keeps
 * `--connections` clients (our `dial()`) echoing messages of random sizes (70%
 * up to 512 B, 25% up to 16 KiB, 5% up to 256 KiB) after random pauses (0-400
 * ms), checks every echo byte for byte, and times each round trip. About one
 * message in 500 is replaced by a disconnect of a random kind — a clean close,
 * an abort (TCP dropped without a close frame) or a peer that vanishes in the
 * middle of a frame — after which the client reconnects.
 *
 * Reported: messages, bytes, disconnects induced, errors beyond them (client
 * and server side), round-trip latency percentiles, and the server's memory
 * after ramp-up, at the end, and once every client has gone.
 *
 * @module
 */

import { dial, OpCode, serve } from "@wsx/websocket";
import { Flags } from "./_args.ts";
import { announce, type Child, sleep, startDeno, within } from "./_process.ts";

/** Server memory and counters, as the server reports them. */
interface ServerStats {
  heap: number;
  external: number;
  rss: number;
  connections: number;
  /** Failures reported by `onError`, by error code or name. */
  errors: Record<string, number>;
}

/** The soak's result. */
export interface SoakResult {
  durationS: number;
  connections: number;
  messages: number;
  bytes: number;
  induced: { close: number; abort: number; midFrame: number };
  /** Client-side failures that no induced disconnect explains. */
  clientErrors: number;
  clientErrorSamples: string[];
  /** Server-side failures beyond those the induced drops cause. */
  serverErrors: Record<string, number>;
  unexpectedServerErrors: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  memory: {
    before: ServerStats;
    start: ServerStats;
    end: ServerStats;
    afterClose: ServerStats;
  };
}

// ---------------------------------------------------------------- server

function runServer(): void {
  const errors: Record<string, number> = {};
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError(err) {
      const key = (err as { code?: unknown }).code ?? (err as Error).name;
      errors[String(key)] = (errors[String(key)] ?? 0) + 1;
    },
  }, async (conn) => {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  });
  announce(server.addr.port, () => ({
    connections: server.connections,
    errors,
  }));
}

// ---------------------------------------------------------------- clients

/** A seeded generator, so runs are comparable. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Round-trip times in 0.1 ms buckets up to 60 s. */
class Histogram {
  #counts = new Uint32Array(600_000);
  count = 0;
  max = 0;

  add(ms: number): void {
    this.#counts[Math.min(this.#counts.length - 1, Math.floor(ms * 10))]++;
    this.count++;
    this.max = Math.max(this.max, ms);
  }

  quantile(q: number): number {
    let seen = 0;
    const target = Math.ceil(q * this.count);
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= target && seen > 0) return (i + 1) / 10;
    }
    return 0;
  }
}

interface ClientStats {
  messages: number;
  bytes: number;
  induced: SoakResult["induced"];
  errors: number;
  samples: string[];
  latency: Histogram;
}

const POOL = (() => {
  const next = rng(7);
  const pool = new Uint8Array(1 << 20);
  for (let i = 0; i < pool.length; i++) pool[i] = next() * 256;
  return pool;
})();

function error(stats: ClientStats, what: string): void {
  stats.errors++;
  if (stats.samples.length < 10) stats.samples.push(what);
}

/** Connects by hand, sends half a frame, and vanishes. */
async function vanishMidFrame(port: number): Promise<void> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await tcp.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const buf = new Uint8Array(512);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await tcp.read(buf);
      if (n === null) return;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    // A masked binary frame announcing 1,000 bytes, of which 10 arrive.
    await tcp.write(
      new Uint8Array([
        0x82,
        0xfe,
        0x03,
        0xe8,
        1,
        2,
        3,
        4,
        ...new Uint8Array(10),
      ]),
    );
  } finally {
    tcp.close();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function timeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return within(p, ms, `no echo within ${ms} ms`);
}

async function client(
  id: number,
  port: number,
  until: number,
  rampMs: number,
  disconnectRate: number,
  stats: ClientStats,
): Promise<void> {
  const next = rng(id + 1);
  await sleep(next() * rampMs);
  const url = `ws://127.0.0.1:${port}`;
  while (Date.now() < until) {
    let conn;
    try {
      conn = await timeout(dial(url), 10_000);
    } catch (err) {
      error(stats, `dial: ${err}`);
      await sleep(100);
      continue;
    }
    let induced = false;
    try {
      while (Date.now() < until) {
        await sleep(next() * 400);
        if (Date.now() >= until) break;
        if (next() < disconnectRate) {
          induced = true;
          const kind = next();
          if (kind < 1 / 3) {
            stats.induced.close++;
            await conn.close();
          } else if (kind < 2 / 3) {
            stats.induced.abort++;
            conn.abort();
          } else {
            stats.induced.midFrame++;
            conn.abort();
            await vanishMidFrame(port);
          }
          break;
        }
        const r = next();
        const size = r < 0.7
          ? Math.floor(next() * 513)
          : r < 0.95
          ? 513 + Math.floor(next() * 16 * 1024)
          : 16 * 1024 + Math.floor(next() * 240 * 1024);
        const offset = Math.floor(next() * (POOL.length - size));
        const data = POOL.subarray(offset, offset + size);
        const start = performance.now();
        await conn.writeMessage(OpCode.Binary, data);
        const msg = await timeout(conn.readMessage(), 10_000);
        stats.latency.add(performance.now() - start);
        if (!sameBytes(msg.data, data)) {
          error(stats, `echo of ${size} bytes differs`);
        }
        stats.messages++;
        stats.bytes += size;
      }
      if (!induced) await conn.close();
    } catch (err) {
      error(stats, `connection: ${err}`);
      conn.abort();
    }
  }
}

// ---------------------------------------------------------------- orchestration

async function serverStats(server: Child): Promise<ServerStats> {
  await server.send("mem");
  return await server.nextJson<ServerStats>(30_000);
}

/** Runs the soak against a fresh server process. */
export async function soak(
  durationS: number,
  connections: number,
  disconnectRate = 1 / 500,
): Promise<SoakResult> {
  const server = startDeno(import.meta.filename!, {
    args: ["--serve"],
    stdin: true,
  });
  try {
    const port = await server.port(30_000);
    const before = await serverStats(server);
    const stats: ClientStats = {
      messages: 0,
      bytes: 0,
      induced: { close: 0, abort: 0, midFrame: 0 },
      errors: 0,
      samples: [],
      latency: new Histogram(),
    };
    const rampMs = Math.min(5_000, durationS * 1000 / 4);
    const until = Date.now() + durationS * 1000;
    const clients = Array.from(
      { length: connections },
      (_, i) => client(i, port, until, rampMs, disconnectRate, stats),
    );
    await sleep(rampMs + 1000);
    const start = await serverStats(server);
    // Clients close at the end: the memory with them open is taken just before.
    await sleep(Math.max(0, until - 1000 - Date.now()));
    const end = await serverStats(server);
    await Promise.all(
      clients.map((c) => c.catch((err) => error(stats, `client: ${err}`))),
    );
    let afterClose = end;
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      afterClose = await serverStats(server);
      if (afterClose.connections === 0) break;
    }
    const serverErrors = afterClose.errors;
    // Each induced abort ends with a 1006 ("closed") on the server; a mid-frame
    // drop with two: the client's aborted connection and the vanished one.
    const explained = stats.induced.abort + 2 * stats.induced.midFrame;
    const unexpected = Object.entries(serverErrors)
      .reduce(
        (n, [code, count]) =>
          n + (code === "closed" ? Math.max(0, count - explained) : count),
        0,
      );
    return {
      durationS,
      connections,
      messages: stats.messages,
      bytes: stats.bytes,
      induced: stats.induced,
      clientErrors: stats.errors,
      clientErrorSamples: stats.samples,
      serverErrors,
      unexpectedServerErrors: unexpected,
      latencyMs: {
        p50: stats.latency.quantile(0.5),
        p99: stats.latency.quantile(0.99),
        p999: stats.latency.quantile(0.999),
        max: Math.round(stats.latency.max * 10) / 10,
      },
      memory: { before, start, end, afterClose },
    };
  } finally {
    await server.stop();
  }
}

if (import.meta.main) {
  const flags = new Flags();
  const smoke = flags.has("smoke");
  const duration = flags.number("duration", 300, 1);
  const connections = flags.number("connections", 1000, 1);
  const json = flags.has("json");
  const serveRole = flags.has("serve");
  flags.done();
  if (serveRole) {
    runServer();
  } else {
    // Smoke runs induce disconnects often, so that every kind happens.
    const r = smoke
      ? await soak(3, 20, 0.05)
      : await soak(duration, connections, 1 / 500);
    if (json) {
      console.log(JSON.stringify(r));
    } else {
      const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
      const m = r.memory;
      console.log(`soak: ${r.durationS} s, ${r.connections} connections`);
      console.log(`messages echoed: ${r.messages} (${mib(r.bytes)} each way)`);
      console.log(
        `disconnects induced: ${r.induced.close} clean, ${r.induced.abort} aborted, ` +
          `${r.induced.midFrame} mid-frame`,
      );
      console.log(
        `client errors beyond induced: ${r.clientErrors} ${
          r.clientErrorSamples.join("; ")
        }`,
      );
      console.log(
        `server errors: ${
          JSON.stringify(r.serverErrors)
        }, beyond induced: ${r.unexpectedServerErrors}`,
      );
      console.log(
        `round trip: p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, ` +
          `p99.9 ${r.latencyMs.p999} ms, max ${r.latencyMs.max} ms`,
      );
      for (
        const [name, s] of [["before", m.before], ["after ramp-up", m.start], [
          "at the end",
          m.end,
        ], [
          "all closed",
          m.afterClose,
        ]] as const
      ) {
        console.log(
          `server ${name}: RSS ${mib(s.rss)}, heap ${mib(s.heap)}, external ${
            mib(s.external)
          }, ` +
            `${s.connections} connections`,
        );
      }
    }
    Deno.exit(r.clientErrors > 0 || r.unexpectedServerErrors > 0 ? 1 : 0);
  }
}
