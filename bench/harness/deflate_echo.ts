/**
 * Compressed echo throughput over loopback: a 4 KiB JSON-like message sent and
 * echoed back, round trips per second, for each engine and for `ws` (npm) with
 * `perMessageDeflate`, all in this one Deno process.
 *
 * The variants take turns (round-robin, several rounds) and each figure is a
 * median, so that load from other processes on a shared machine hits them all
 * alike; ratios to `ws` are taken within each round, then their median.
 *
 * Run with `deno run -A bench/harness/deflate_echo.ts [--rounds 7] [--ms 400]`, or
 * `--smoke` for a quick check that every variant works (figures meaningless).
 *
 * @module
 */

// @ts-types="npm:@types/ws@8.18.2"
import { WebSocket as WsClient, WebSocketServer } from "npm:ws@8.23.0";
import process from "node:process";
import { accept, dial, OpCode } from "@wsx/websocket";
import type { DataOpCode } from "@wsx/websocket";
import {
  compressionStreamEngine,
  type DeflateOptions,
  zlibEngine,
} from "@wsx/websocket/deflate";
import { MESSAGES } from "../_deflate_data.ts";
import { Flags } from "./_args.ts";

/** One client and its echo server, ready for round trips. */
export interface EchoPair {
  /** Sends one message and resolves when its echo is back. */
  roundTrip(message: Uint8Array): Promise<void>;
  /** Closes both ends and waits for them. */
  close(): Promise<void>;
}

/** An echo variant: a name and how to make its pair. */
export interface EchoVariant {
  name: string;
  open(): Promise<EchoPair>;
}

/** Our client and server through `dial`/`accept`, with `deflate` as given. */
export function ours(
  name: string,
  deflate: DeflateOptions | false,
): EchoVariant {
  return { name, open: () => ourPair(deflate) };
}

async function ourPair(deflate: DeflateOptions | false): Promise<EchoPair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((tcp) => accept(tcp, { deflate }));
  const client = await dial(`ws://127.0.0.1:${listener.addr.port}/`, {
    deflate,
  });
  const server = await accepted;
  listener.close();
  if (deflate !== false && !client.extensions.includes("permessage-deflate")) {
    throw new Error("permessage-deflate was not negotiated");
  }
  const echo = (async () => {
    for await (const msg of server) {
      await server.writeMessage(msg.opcode as DataOpCode, msg.data);
    }
  })();
  return {
    async roundTrip(message) {
      await client.writeMessage(OpCode.Text, message);
      await client.readMessage();
    },
    async close() {
      await client.close();
      await echo.catch(() => {});
      await Promise.all([client.closed, server.closed]);
    },
  };
}

/** `ws` as client and echo server, `perMessageDeflate` with a threshold of 0. */
export function wsVariant(
  name: string,
  zlibDeflateOptions: { level?: number } = {},
): EchoVariant {
  return {
    name,
    async open() {
      const perMessageDeflate = { threshold: 0, zlibDeflateOptions };
      const wss = new WebSocketServer({
        host: "127.0.0.1",
        port: 0,
        perMessageDeflate,
      });
      await new Promise((resolve) => wss.once("listening", resolve));
      wss.on("connection", (socket: WsClient) => {
        socket.on("message", (data: unknown, isBinary: boolean) => {
          socket.send(data as Uint8Array, { binary: isBinary });
        });
      });
      const { port } = wss.address() as { port: number };
      const ws = new WsClient(`ws://127.0.0.1:${port}`, { perMessageDeflate });
      await new Promise((resolve) => ws.once("open", resolve));
      if (!String(ws.extensions).includes("permessage-deflate")) {
        throw new Error("ws did not negotiate permessage-deflate");
      }
      let next: (() => void) | null = null;
      ws.on("message", () => next?.());
      return {
        roundTrip(message) {
          const echoed = new Promise<void>((resolve) => next = resolve);
          ws.send(message);
          return echoed;
        },
        async close() {
          const closed = new Promise((resolve) => ws.once("close", resolve));
          ws.close();
          await closed;
          await new Promise((resolve) => wss.close(resolve));
        },
      };
    },
  };
}

const NO_TAKEOVER = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
};

/**
 * The variants: uncompressed, each engine with context takeover (as `ws` by
 * default) and without, and `ws` at its default level 6 (the reference, fifth)
 * and at level 1.
 */
export function defaultVariants(): EchoVariant[] {
  return [
    ours("uncompressed", false),
    ours("ours, CompressionStream (default)", {
      engine: compressionStreamEngine(),
    }),
    ours("ours, zlib level 6", { engine: zlibEngine(), level: 6 }),
    ours("ours, zlib level 1", { engine: zlibEngine(), level: 1 }),
    wsVariant("ws, perMessageDeflate (level 6, its default)"),
    wsVariant("ws, perMessageDeflate level 1", { level: 1 }),
    ours("ours, CompressionStream, no takeover", {
      engine: compressionStreamEngine(),
      ...NO_TAKEOVER,
    }),
    ours("ours, zlib level 6, no takeover", {
      engine: zlibEngine(),
      level: 6,
      ...NO_TAKEOVER,
    }),
  ];
}

/** The result of one variant, per round: round trips per second of wall time and of CPU time. */
export interface EchoResult {
  name: string;
  rates: number[];
  cpuRates: number[];
}

/** This process's CPU time (user + system, all threads) in seconds. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Runs the variants round-robin: in each round, each variant makes round trips
 * for `ms` milliseconds (at most `maxTrips`).
 */
export async function measureEcho(
  variants: EchoVariant[],
  { rounds = 7, ms = 400, maxTrips = 200_000, warmupMs = 200 } = {},
): Promise<EchoResult[]> {
  const pairs: EchoPair[] = [];
  try {
    for (const v of variants) pairs.push(await v.open());
    const results: EchoResult[] = variants.map((v) => ({
      name: v.name,
      rates: [],
      cpuRates: [],
    }));
    let m = 0;
    const run = async (pair: EchoPair, budget: number, into?: EchoResult) => {
      const cpu = cpuSeconds();
      const start = performance.now();
      let trips = 0;
      while (trips < maxTrips && performance.now() - start < budget) {
        await pair.roundTrip(MESSAGES[m++ & 63]);
        trips++;
      }
      into?.rates.push(trips / ((performance.now() - start) / 1000));
      into?.cpuRates.push(trips / (cpuSeconds() - cpu));
    };
    for (const pair of pairs) await run(pair, warmupMs);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < pairs.length; i++) {
        await run(pairs[i], ms, results[i]);
      }
    }
    return results;
  } finally {
    for (const pair of pairs) await pair.close();
  }
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * A markdown table: median round trips per second of wall time and of CPU time,
 * each with the median of the per-round ratios to the variant named `reference`.
 */
export function echoTable(results: EchoResult[], reference: string): string {
  const ref = results.find((r) => r.name === reference);
  const ratio = (mine: number[], theirs: number[] | undefined) =>
    theirs === undefined
      ? "n/a"
      : median(mine.map((x, i) => x / theirs[i])).toFixed(2);
  const rate = (xs: number[]) => Math.round(median(xs)).toLocaleString("en-US");
  const lines = [
    `| variant | round trips/s | × ws | per CPU-second | × ws (CPU) |`,
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${rate(r.rates)} | ${ratio(r.rates, ref?.rates)} | ${
        rate(r.cpuRates)
      } | ${ratio(r.cpuRates, ref?.cpuRates)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const flags = new Flags();
  const smoke = flags.has("smoke");
  const rounds = flags.number("rounds", 7, 1);
  const ms = flags.number("ms", 400, 1);
  flags.done();
  const variants = defaultVariants();
  const results = await measureEcho(
    variants,
    smoke ? { rounds: 1, ms: 30, warmupMs: 10 } : { rounds, ms },
  );
  console.log(
    `4 KiB JSON echo over loopback, Deno ${Deno.version.deno}, median of ${
      results[0].rates.length
    } rounds; × ws: ratio to "${variants[4].name}"\n`,
  );
  console.log(echoTable(results, variants[4].name));
}
