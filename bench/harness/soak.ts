/**
 * Soak test: `deno task soak [--duration 300] [--connections 1000] [--tls 0.5]
 * [--deflate 0.5] [--zlib] [--smoke] [--json]`.
 *
 * Our `serve()` echo servers run in their own process, with `deflate: true`:
 * one on TCP, one on TLS (the test CA's certificate from `tests/fixtures/`).
 * This process keeps `--connections` clients (our `dial()`) echoing messages
 * of random sizes (70% up to 512 B, 25% up to 16 KiB, 5% up to 256 KiB) after
 * random pauses (0-400 ms), checks every echo byte for byte, and times each
 * round trip. A share of the clients (`--tls`, default half) connects over TLS,
 * and a share across both (`--deflate`, default half) asks for
 * permessage-deflate and sends compressible text instead of random bytes
 * (with the default engine; `--zlib`: `zlibEngine()` on both sides).
 * About one message in 500 is replaced by a disconnect of a random kind — a
 * clean close, an abort (the socket dropped without a close frame) or a peer
 * that vanishes in the middle of a frame, over the client's own transport —
 * after which the client reconnects.
 *
 * Reported: messages, bytes, disconnects induced, errors beyond them (client
 * and server side), round-trip latency percentiles, and the server's memory
 * (RSS, heap and external, after a GC) before any client, after ramp-up, at the
 * end, and once every client has gone. The run fails on an error beyond the
 * induced ones, and when the heap has not come back to within 8 MiB of where it
 * started once every client has gone.
 *
 * @module
 */

import {
  dial,
  type DialOptions,
  OpCode,
  serve,
  type WebSocketConn,
} from "@wsx/websocket";
import { zlibEngine } from "@wsx/websocket/deflate";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../../tests/_tls.ts";
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
  /** The TLS server's port. */
  tlsPort: number;
}

/** The soak's result. */
export interface SoakResult {
  durationS: number;
  connections: number;
  /** How many of the clients use TLS, and how many compress. */
  tlsClients: number;
  deflateClients: number;
  /** Whether the heap came back to within 8 MiB of its start. */
  heapReturned: boolean;
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

/** The `deflate` option of both sides: the default engine, or zlib. */
function deflateOption(zlib: boolean): DialOptions["deflate"] {
  return zlib ? { engine: zlibEngine() } : true;
}

function runServer(zlib: boolean): void {
  const errors: Record<string, number> = {};
  const options = {
    hostname: "127.0.0.1",
    port: 0,
    deflate: deflateOption(zlib),
    onListen() {},
    onError(err: unknown) {
      const key = (err as { code?: unknown }).code ?? (err as Error).name;
      errors[String(key)] = (errors[String(key)] ?? 0) + 1;
    },
  };
  const echo = async (conn: WebSocketConn) => {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  };
  const plain = serve(options, echo);
  const tls = serve({ ...options, cert: SERVER_CERT, key: SERVER_KEY }, echo);
  announce(plain.addr.port, () => ({
    connections: plain.connections + tls.connections,
    errors,
    tlsPort: tls.addr.port,
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

/** Text that compresses (about 4:1), for the clients that ask for deflate. */
const TEXT_POOL = (() => {
  const next = rng(11);
  const words = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    '{"id":',
    '"ok":true',
    "\n",
  ];
  let text = "";
  while (text.length < 1 << 20) {
    text += words[Math.floor(next() * words.length)] + (next() * 1000 | 0) +
      " ";
  }
  return new TextEncoder().encode(text.slice(0, 1 << 20));
})();

/** Where and how one client connects. */
interface Route {
  url: string;
  options: DialOptions;
  /** Opens a raw socket of the same kind to the same server. */
  raw(): Promise<Deno.Conn>;
  pool: Uint8Array;
}

function route(
  port: number,
  tlsPort: number,
  tls: boolean,
  deflate: boolean,
  zlib: boolean,
): Route {
  const options: DialOptions = {
    deflate: deflate && deflateOption(zlib),
    ...(tls ? { caCerts: [CA_CERT] } : {}),
  };
  return {
    url: tls ? `wss://localhost:${tlsPort}` : `ws://127.0.0.1:${port}`,
    options,
    raw: () =>
      tls
        ? Deno.connectTls({
          hostname: "localhost",
          port: tlsPort,
          caCerts: [CA_CERT],
        })
        : Deno.connect({ hostname: "127.0.0.1", port }),
    pool: deflate ? TEXT_POOL : POOL,
  };
}

function error(stats: ClientStats, what: string): void {
  stats.errors++;
  if (stats.samples.length < 10) stats.samples.push(what);
}

/** Connects by hand, sends half a frame, and vanishes. */
async function vanishMidFrame(route: Route): Promise<void> {
  const tcp = await route.raw();
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
  route: Route,
  until: number,
  rampMs: number,
  disconnectRate: number,
  stats: ClientStats,
): Promise<void> {
  const next = rng(id + 1);
  await sleep(next() * rampMs);
  const pool = route.pool;
  while (Date.now() < until) {
    let conn;
    try {
      conn = await timeout(dial(route.url, route.options), 10_000);
    } catch (err) {
      error(stats, `dial: ${err}`);
      await sleep(100);
      continue;
    }
    let induced = false;
    if (route.options.deflate && conn.extensions === "") {
      error(stats, "permessage-deflate was not negotiated");
    }
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
            await vanishMidFrame(route);
          }
          break;
        }
        const r = next();
        const size = r < 0.7
          ? Math.floor(next() * 513)
          : r < 0.95
          ? 513 + Math.floor(next() * 16 * 1024)
          : 16 * 1024 + Math.floor(next() * 240 * 1024);
        const offset = Math.floor(next() * (pool.length - size));
        const data = pool.subarray(offset, offset + size);
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
  shares: { tls: number; deflate: number; zlib?: boolean } = {
    tls: 0.5,
    deflate: 0.5,
  },
): Promise<SoakResult> {
  const zlib = shares.zlib ?? false;
  const server = startDeno(import.meta.filename!, {
    args: ["--serve", ...(zlib ? ["--zlib"] : [])],
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
    // Spread evenly: client i uses TLS when the running share crosses an
    // integer at i, and compresses when it does at i / 2, so that (at half
    // and half) each of the four kinds is a quarter of the clients.
    const crosses = (i: number, share: number) =>
      Math.floor((i + 1) * share) > Math.floor(i * share);
    let tlsClients = 0;
    let deflateClients = 0;
    const clients = Array.from({ length: connections }, (_, i) => {
      const tls = crosses(i, shares.tls);
      const deflate = crosses(Math.floor(i / 2), shares.deflate);
      tlsClients += tls ? 1 : 0;
      deflateClients += deflate ? 1 : 0;
      const r = route(port, before.tlsPort, tls, deflate, zlib);
      return client(i, r, until, rampMs, disconnectRate, stats);
    });
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
      tlsClients,
      deflateClients,
      heapReturned: afterClose.heap - before.heap < 8 << 20,
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
  const shares = {
    tls: flags.number("tls", 0.5, 0, 1),
    deflate: flags.number("deflate", 0.5, 0, 1),
    zlib: flags.has("zlib"),
  };
  const serveRole = flags.has("serve");
  flags.done();
  if (serveRole) {
    runServer(shares.zlib);
  } else {
    // Smoke runs induce disconnects often, so that every kind happens.
    const r = smoke
      ? await soak(3, 20, 0.05, shares)
      : await soak(duration, connections, 1 / 500, shares);
    if (json) {
      console.log(JSON.stringify(r));
    } else {
      const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
      const m = r.memory;
      console.log(
        `soak: ${r.durationS} s, ${r.connections} connections ` +
          `(${r.tlsClients} over TLS, ${r.deflateClients} compressed)`,
      );
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
      console.log(`heap back to its start: ${r.heapReturned ? "yes" : "no"}`);
    }
    const failed = r.clientErrors > 0 || r.unexpectedServerErrors > 0 ||
      !r.heapReturned;
    Deno.exit(failed ? 1 : 0);
  }
}
