/**
 * The end-to-end benchmark (`deno task bench:load`): every server under the same
 * load generator, scenarios S1-S5, interleaved repetitions, medians and ratios to
 * Deno's built-in server; then the client side and the scale figures. Prints
 * Markdown tables; `--json FILE` also writes every raw result.
 *
 * Flags: `--smoke` (a few seconds, to keep it working: S1 unless `--only` names
 * others), `--reps N` (default 3),
 * `--duration MS` (default 3000), `--warmup MS` (default 1000),
 * `--only S1,S2,...`, `--sections load,client,scale`, `--baseline-dir DIR`
 * (another checkout of this repository: each of our servers and our client also
 * runs from there, interleaved with ours, as a row "… (baseline)").
 *
 * @module
 */

import { Flags as Args } from "../_args.ts";
import {
  baselineCheckout,
  type Checkout,
  type Child,
  OURS,
  scriptIn,
  startDeno,
} from "../_process.ts";
import { type LoadResult, median } from "./_meter.ts";
import type { LoadConfig } from "./generator.ts";

/** A server under test. */
interface Server {
  name: string;
  file: string;
  args: string[];
  protocol: "ws" | "raw";
  /** Where its file is: this checkout, or the baseline (key suffix `@baseline`). */
  checkout?: Checkout;
}

/** A load shape. */
interface Scenario {
  id: string;
  title: string;
  size: number;
  payload: LoadConfig["payload"];
  conns: number;
  inflight: number;
  deflate?: LoadConfig["deflate"];
  fragment?: number;
  servers: string[];
  /** The goal: `ours` against `versus` in msgs/s, at least `times`. */
  target: Target;
  /** Further goals, reported as rows of their own. */
  also?: Target[];
}

/** A goal: `ours` against `versus` in msgs/s, at least `times`. */
interface Target {
  ours: string;
  versus: string;
  times: number;
}

const SERVERS: Record<string, Server> = {
  deno: {
    name: "Deno built-in",
    file: "server_deno.ts",
    args: [],
    protocol: "ws",
  },
  ours: { name: "ours", file: "server_ours.ts", args: [], protocol: "ws" },
  ws: { name: "ws 8.23.0", file: "server_ws.ts", args: [], protocol: "ws" },
  raw: {
    name: "raw TCP echo",
    file: "server_raw.ts",
    args: [],
    protocol: "raw",
  },
  oursChunk32: {
    name: "ours, 32 KiB chunk (ChunkSize.Streaming)",
    file: "server_ours.ts",
    args: ["--chunk", "32768"],
    protocol: "ws",
  },
  oursDeflate: {
    name: "ours + deflate (CompressionStream engine, the default)",
    file: "server_ours.ts",
    args: ["--deflate"],
    protocol: "ws",
  },
  oursZlib4: {
    name: "ours + deflate (zlib engine, 4 KiB chunk: the library's default)",
    file: "server_ours.ts",
    args: ["--zlib"],
    protocol: "ws",
  },
  oursZlib: {
    name: "ours + deflate (zlib engine, 8 KiB chunk: as the echo server)",
    file: "server_ours.ts",
    args: ["--zlib", "--chunk", "8192"],
    protocol: "ws",
  },
  wsDeflate: {
    name: "ws + deflate",
    file: "server_ws.ts",
    args: ["--deflate"],
    protocol: "ws",
  },
};

const ALL = ["deno", "ours", "ws", "raw"];
/** S5 once per permessage-deflate offer a client may send (`DEFLATE_OFFERS`). */
const S5_OFFERS: [string, string, LoadConfig["deflate"]][] = [
  [
    "S5",
    "4 KiB JSON-like text, permessage-deflate, 16 connections, 4 in flight",
    "takeover",
  ],
  [
    "S5nn",
    "as S5, the client offering server_no_context_takeover and client_no_context_takeover (gorilla/websocket)",
    "no-takeover",
  ],
  [
    "S5n",
    "as S5, the client offering client_no_context_takeover",
    "client-no-takeover",
  ],
  [
    "S5w",
    "as S5, the client offering client_max_window_bits (Chromium)",
    "client-window",
  ],
];
const S3: Scenario = {
  id: "S3",
  title: "16 KiB binary, 16 connections, 4 in flight",
  size: 16384,
  payload: "random",
  conns: 16,
  inflight: 4,
  target: { ours: "ours", versus: "raw", times: 0.9 },
  servers: [...ALL, "oursChunk32"],
};
const S4: Scenario = {
  id: "S4",
  title: "1 MiB binary, 4 connections, 1 in flight",
  size: 1 << 20,
  payload: "random",
  conns: 4,
  inflight: 1,
  target: { ours: "ours", versus: "raw", times: 0.9 },
  servers: [...ALL, "oursChunk32"],
};
const SCENARIOS: Scenario[] = [
  {
    id: "S1",
    title: "32 B text, 64 connections, 1 in flight",
    size: 32,
    payload: "ascii",
    conns: 64,
    inflight: 1,
    target: { ours: "ours", versus: "deno", times: 1.0 },
    servers: ALL,
  },
  {
    id: "S2",
    title: "32 B text, 16 connections, 64 in flight",
    size: 32,
    payload: "ascii",
    conns: 16,
    inflight: 64,
    target: { ours: "ours", versus: "deno", times: 3.0 },
    servers: ALL,
  },
  S3,
  S4,
  ...[S3, S4].map((scenario): Scenario => ({
    ...scenario,
    id: `${scenario.id}f`,
    title:
      `as ${scenario.id}, each message in frames of 4 KiB (gorilla/websocket's client)`,
    fragment: 4096,
  })),
  ...S5_OFFERS.map(([id, title, deflate]): Scenario => ({
    id,
    title,
    size: 4096,
    payload: "json",
    conns: 16,
    inflight: 4,
    deflate,
    target: { ours: "oursZlib", versus: "wsDeflate", times: 2.0 },
    also: [{ ours: "oursDeflate", versus: "wsDeflate", times: 1.0 }],
    servers: id === "S5"
      ? ["wsDeflate", "oursDeflate", "oursZlib4", "oursZlib"]
      : ["wsDeflate", "oursDeflate", "oursZlib"],
  })),
];

/** Cells disturbed by other processes above this many cores are run again. */
const NOISE_CORES = 0.3;
const RETRIES = 1;

interface Flags {
  smoke: boolean;
  reps: number;
  duration: number;
  warmup: number;
  only: string[] | null;
  sections: string[];
  json: string | null;
  /** The checkout measured beside this one, or null. */
  baseline: Checkout | null;
}

function parseFlags(args: string[]): Flags {
  const flags = new Args(args);
  const smoke = flags.has("smoke");
  const baseline = flags.string("baseline-dir");
  const parsed = {
    smoke,
    reps: flags.number("reps", smoke ? 1 : 3, 1),
    duration: flags.number("duration", smoke ? 200 : 3000, 1),
    warmup: flags.number("warmup", smoke ? 100 : 1000),
    only: flags.list("only") ?? null,
    sections: flags.list(
      "sections",
      smoke ? ["load", "client"] : ["load", "client", "scale"],
    ),
    json: flags.string("json") ?? null,
    baseline: baseline === undefined ? null : baselineCheckout(baseline),
  };
  flags.done();
  return parsed;
}

const BASELINE = "@baseline";

/** The server a key names: `key@baseline` is `key` run from the baseline checkout. */
function serverFor(key: string, flags: Flags): Server {
  if (!key.endsWith(BASELINE)) return SERVERS[key];
  const server = SERVERS[key.slice(0, -BASELINE.length)];
  const checkout = flags.baseline!;
  return { ...server, name: server.name + checkout.suffix, checkout };
}

/** `keys`, each of our servers followed by its baseline when there is one. */
function withBaseline(keys: string[], flags: Flags): string[] {
  if (flags.baseline === null) return keys;
  return keys.flatMap((key) =>
    SERVERS[key].file === "server_ours.ts" ? [key, key + BASELINE] : [key]
  );
}

/** Starts a server and waits for its port. */
async function startServer(
  server: Server,
): Promise<{ child: Child; port: number }> {
  const checkout = server.checkout ?? OURS;
  const child = startDeno(scriptIn(checkout, `load/${server.file}`), {
    args: server.args,
    checkout,
    stdin: true,
  });
  try {
    return { child, port: await child.port(30_000) };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Runs one load source to completion and returns its result. */
async function runSource<T>(
  file: string,
  config: object,
  timeoutMs: number,
  checkout: Checkout,
): Promise<T> {
  const source = startDeno(scriptIn(checkout, `load/${file}`), {
    args: [JSON.stringify(config)],
    checkout,
  });
  try {
    return await source.nextJson<T>(timeoutMs);
  } finally {
    await source.stop();
  }
}

/** One cell: a fresh server process, one generator run, both ended by PID. */
async function cell(
  server: Server,
  scenario: Omit<Scenario, "servers" | "id" | "title" | "target">,
  flags: Flags,
  source = "generator.ts",
  extra: object = {},
  sourceCheckout: Checkout = OURS,
): Promise<LoadResult> {
  let best: LoadResult | null = null;
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const { child, port } = await startServer(server);
    try {
      const config: LoadConfig = {
        port,
        protocol: server.protocol,
        size: scenario.size,
        payload: scenario.payload,
        deflate: scenario.deflate,
        fragment: scenario.fragment,
        conns: scenario.conns,
        inflight: scenario.inflight,
        warmupMs: flags.warmup,
        durationMs: flags.duration,
        serverPid: child.pid,
      };
      const result = await runSource<LoadResult>(
        source,
        { ...config, ...extra },
        flags.warmup + flags.duration + 120_000,
        sourceCheckout,
      );
      if (best === null || result.otherCores < best.otherCores) best = result;
      if (flags.smoke || result.otherCores <= NOISE_CORES) break;
    } finally {
      await child.stop();
    }
  }
  return best!;
}

function medianOf(results: LoadResult[]): LoadResult {
  const keys = Object.keys(results[0]) as (keyof LoadResult)[];
  const out = {} as LoadResult;
  for (const key of keys) out[key] = median(results.map((r) => r[key]));
  return out;
}

const fmt = (v: number, digits = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    })
    : "n/a";
const ratio = (v: number, base: number) =>
  Number.isFinite(v / base) ? ` (${(v / base).toFixed(2)}x)` : "";

/** A Markdown table of median results, every figure also as a ratio to `base`. */
function table(rows: [string, LoadResult][], base: LoadResult | null): string {
  const lines = [
    "| server | msgs/s | MB/s | p50 ms | p99 ms | server µs/msg | server cores | generator cores | softirq cores | other cores |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [name, r] of rows) {
    const b = base ?? r;
    lines.push(
      `| ${name} | ${fmt(r.msgsPerSec)}${
        ratio(r.msgsPerSec, b.msgsPerSec)
      } | ` +
        `${fmt(r.mbPerSec, 1)}${ratio(r.mbPerSec, b.mbPerSec)} | ` +
        `${fmt(r.p50Ms, 2)}${ratio(r.p50Ms, b.p50Ms)} | ` +
        `${fmt(r.p99Ms, 2)}${ratio(r.p99Ms, b.p99Ms)} | ` +
        `${fmt(r.serverCpuUs, 1)}${ratio(r.serverCpuUs, b.serverCpuUs)} | ` +
        `${fmt(r.serverCores, 2)} | ${fmt(r.generatorCores, 2)} | ` +
        `${fmt(r.kernelCores, 2)} | ${fmt(r.otherCores, 2)} |`,
    );
  }
  return lines.join("\n");
}

/** `keys` rotated by `rep`, so that no server always runs first. */
function rotate(keys: string[], rep: number): string[] {
  return keys.map((_, i) => keys[(i + rep) % keys.length]);
}

/** Server side: every scenario, every server, repetitions interleaved. */
async function loadSection(
  flags: Flags,
  raw: Record<string, unknown>,
): Promise<string> {
  const scenarios = SCENARIOS.filter((s) =>
    (flags.only === null || flags.only.includes(s.id)) &&
    (!flags.smoke || flags.only !== null || s.id === "S1")
  ).map((s) => ({
    ...s,
    servers: withBaseline(s.servers, flags),
    ...(flags.smoke ? { conns: 2, inflight: Math.min(s.inflight, 2) } : {}),
  }));
  const results = new Map<string, LoadResult[]>();
  for (let rep = 0; rep < flags.reps; rep++) {
    for (const scenario of scenarios) {
      for (const key of rotate(scenario.servers, rep)) {
        const result = await cell(serverFor(key, flags), scenario, flags);
        const id = `${scenario.id}/${key}`;
        results.set(id, [...(results.get(id) ?? []), result]);
        console.error(
          `rep ${rep + 1} ${id}: ${fmt(result.msgsPerSec)} msgs/s, ` +
            `server ${fmt(result.serverCpuUs, 1)} µs/msg, other ${
              fmt(result.otherCores, 2)
            } cores`,
        );
      }
    }
  }
  raw.load = Object.fromEntries(results);
  const out: string[] = ["## Server side\n"];
  for (const scenario of scenarios) {
    const rows: [string, LoadResult][] = scenario.servers.map((key) => [
      serverFor(key, flags).name,
      medianOf(results.get(`${scenario.id}/${key}`)!),
    ]);
    const base = rows[0][1];
    out.push(`### ${scenario.id}: ${scenario.title}\n`);
    out.push(`Ratios to ${rows[0][0]}.\n`);
    out.push(table(rows, base) + "\n");
  }
  const baseline = flags.baseline !== null;
  out.push(
    "### Targets (msgs/s ratios of the medians)\n",
    "| scenario | ours | versus | target | measured | ours vs ws |" +
      (baseline
        ? " ours (baseline) vs versus | ours vs ours (baseline) |"
        : ""),
    "| --- | --- | --- | --- | --- | --- |" + (baseline ? " --- | --- |" : ""),
  );
  for (const { id, target, also = [] } of scenarios) {
    const rate = (key: string) =>
      median((results.get(`${id}/${key}`) ?? []).map((r) => r.msgsPerSec));
    for (const goal of [target, ...also]) {
      const measured = rate(goal.ours) / rate(goal.versus);
      const ws = rate(goal.ours) /
        rate(id.startsWith("S5") ? "wsDeflate" : "ws");
      out.push(
        `| ${id} | ${SERVERS[goal.ours].name} | ${
          SERVERS[goal.versus].name
        } | ` +
          `≥ ${goal.times.toFixed(1)}x | ${measured.toFixed(2)}x ${
            measured >= goal.times ? "(met)" : "(missed)"
          } | ${ws.toFixed(2)}x |` +
          (baseline
            ? ` ${
              (rate(goal.ours + BASELINE) / rate(goal.versus)).toFixed(2)
            }x | ` +
              `${(rate(goal.ours) / rate(goal.ours + BASELINE)).toFixed(2)}x |`
            : ""),
      );
    }
  }
  return out.join("\n");
}

/** The offers under which the clients compress (client section). */
const CLIENT_DEFLATE = ["S5", "S5nn"];

/** The clients compared in a scenario, the first being the one ratios are to. */
function clientsOf(scenario: Scenario, flags: Flags): string[] {
  const ours = scenario.deflate ? ["ours", "ours-zlib"] : ["ours"];
  const base = scenario.deflate ? "ws" : "websocket";
  return [
    base,
    ...ours,
    ...(scenario.deflate ? [] : ["dial"]),
    ...(flags.baseline === null ? [] : ours.map((c) => c + BASELINE)),
  ];
}

const CLIENT_NAMES: Record<string, string> = {
  websocket: "new WebSocket()",
  ws: "ws 8.23.0 client",
  ours: "ours (Conn)",
  "ours-zlib": "ours (Conn), zlib engine",
  dial: "ours (dial())",
};

/**
 * Client side: our client and `new WebSocket()` against Deno's built-in server;
 * with compression (S5, S5nn), ours (`dial`, either engine) and the `ws` client
 * against our zlib-engine echo server (Deno's server cannot compress).
 */
async function clientSection(
  flags: Flags,
  raw: Record<string, unknown>,
): Promise<string> {
  const scenarios = SCENARIOS.filter((s) =>
    (!s.deflate || CLIENT_DEFLATE.includes(s.id)) &&
    (flags.only === null || flags.only.includes(s.id)) &&
    (!flags.smoke || s.id === "S1" || flags.only !== null)
  ).map((s) => flags.smoke ? { ...s, conns: 2 } : s);
  const results = new Map<string, LoadResult[]>();
  for (let rep = 0; rep < flags.reps; rep++) {
    for (const scenario of scenarios) {
      const clients = clientsOf(scenario, flags);
      for (const client of rep % 2 === 0 ? clients : [...clients].reverse()) {
        const fromBaseline = client.endsWith(BASELINE);
        const result = await cell(
          scenario.deflate ? SERVERS.oursZlib : SERVERS.deno,
          scenario,
          flags,
          "client_load.ts",
          { client: fromBaseline ? client.slice(0, -BASELINE.length) : client },
          fromBaseline ? flags.baseline! : OURS,
        );
        const id = `${scenario.id}/client-${client}`;
        results.set(id, [...(results.get(id) ?? []), result]);
        console.error(
          `rep ${rep + 1} client ${id}: ${fmt(result.msgsPerSec)} msgs/s, ` +
            `client ${fmt(result.generatorCpuUs, 1)} µs/msg`,
        );
      }
    }
  }
  raw.client = Object.fromEntries(results);
  const out = [
    "## Client side\n",
    "The client is the load source; its CPU time per message compares the clients. " +
    "Uncompressed: against Deno's built-in server, ratios to `new WebSocket()`. " +
    "Compressed (S5, S5nn): against our echo server (zlib engine, 8 KiB chunk), ratios to the `ws` client.\n",
    "| scenario | client | msgs/s | p50 ms | p99 ms | client µs/msg | client cores |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const scenario of scenarios) {
    const clients = clientsOf(scenario, flags);
    const base = medianOf(results.get(`${scenario.id}/client-${clients[0]}`)!);
    for (const client of clients) {
      const r = medianOf(results.get(`${scenario.id}/client-${client}`)!);
      const name = client.endsWith(BASELINE)
        ? CLIENT_NAMES[client.slice(0, -BASELINE.length)] +
          flags.baseline!.suffix
        : CLIENT_NAMES[client];
      out.push(
        `| ${scenario.id} | ${name} | ` +
          `${fmt(r.msgsPerSec)}${ratio(r.msgsPerSec, base.msgsPerSec)} | ` +
          `${fmt(r.p50Ms, 2)}${ratio(r.p50Ms, base.p50Ms)} | ` +
          `${fmt(r.p99Ms, 2)}${ratio(r.p99Ms, base.p99Ms)} | ` +
          `${fmt(r.generatorCpuUs, 1)}${
            ratio(r.generatorCpuUs, base.generatorCpuUs)
          } | ` +
          `${fmt(r.generatorCores, 2)} |`,
      );
    }
  }
  return out.join("\n") + "\n";
}

const SCALE_SERVERS = ["deno", "ours", "ws"];

/** Throughput as the number of connections grows. */
async function scaleSection(
  flags: Flags,
  raw: Record<string, unknown>,
): Promise<string> {
  const out = ["## Scale\n"];
  const counts = flags.smoke ? [1, 4] : [1, 100, 5000];
  const results = new Map<string, LoadResult[]>();
  for (let rep = 0; rep < flags.reps; rep++) {
    for (const conns of counts) {
      for (const key of rotate(withBaseline(SCALE_SERVERS, flags), rep)) {
        const result = await cell(serverFor(key, flags), {
          size: 32,
          payload: "ascii",
          conns,
          inflight: 1,
        }, flags);
        const id = `${conns}/${key}`;
        results.set(id, [...(results.get(id) ?? []), result]);
        console.error(
          `rep ${rep + 1} scale ${id}: ${fmt(result.msgsPerSec)} msgs/s`,
        );
      }
    }
  }
  raw.scale = Object.fromEntries(results);
  out.push(
    "### Throughput by connection count (32 B text, 1 in flight each)\n",
    "| connections | server | msgs/s | p50 ms | p99 ms | server µs/msg |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  for (const conns of counts) {
    const base = medianOf(results.get(`${conns}/deno`)!);
    for (const key of withBaseline(SCALE_SERVERS, flags)) {
      const r = medianOf(results.get(`${conns}/${key}`)!);
      out.push(
        `| ${fmt(conns)} | ${serverFor(key, flags).name} | ${
          fmt(r.msgsPerSec)
        }${ratio(r.msgsPerSec, base.msgsPerSec)} | ` +
          `${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.serverCpuUs, 1)}${
            ratio(r.serverCpuUs, base.serverCpuUs)
          } |`,
      );
    }
  }
  return out.join("\n") + "\n";
}

/** Runs the sections the flags ask for and returns the report. */
export async function runAll(
  args: string[],
): Promise<{ markdown: string; raw: Record<string, unknown> }> {
  const flags = parseFlags(args);
  const raw: Record<string, unknown> = { flags };
  const parts = [
    `# Load results\n\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ` +
    `${
      new Date().toISOString().slice(0, 10)
    }; ${flags.reps} repetitions (medians), ` +
    `${flags.warmup} ms warm-up + ${flags.duration} ms per cell.\n` +
    (flags.baseline === null
      ? ""
      : `\n${await describeCheckouts(flags.baseline)}\n`),
  ];
  if (flags.sections.includes("load")) {
    parts.push(await loadSection(flags, raw));
  }
  if (flags.sections.includes("client")) {
    parts.push(await clientSection(flags, raw));
  }
  if (flags.sections.includes("scale")) {
    parts.push(await scaleSection(flags, raw));
  }
  return { markdown: parts.join("\n"), raw };
}

/** Which commits "ours" and "ours (baseline)" are, for the report. */
export async function describeCheckouts(baseline: Checkout): Promise<string> {
  return `ours: ${await commitOf(OURS)}; ours (baseline): ${await commitOf(
    baseline,
  )} in ${baseline.root}.`;
}

/** The short commit of a checkout (with `+dirty` for local changes), or `"?"`. */
async function commitOf(checkout: Checkout): Promise<string> {
  try {
    const { stdout } = await new Deno.Command("git", {
      args: ["-C", checkout.root, "describe", "--always", "--dirty=+dirty"],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    return new TextDecoder().decode(stdout).trim() || "?";
  } catch {
    return "?";
  }
}

if (import.meta.main) {
  const { markdown, raw } = await runAll(Deno.args);
  console.log(markdown);
  const flags = parseFlags(Deno.args);
  if (flags.json !== null) {
    await Deno.writeTextFile(flags.json, JSON.stringify(raw, null, 2));
  }
}
