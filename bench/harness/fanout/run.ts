/**
 * The fan-out benchmark: deliveries per second and publish-to-receive latency
 * of the broadcast contract (`examples/broadcast_server.ts`) against Bun's
 * `server.publish`, `ws` looping over its clients and Deno's built-in server
 * looping over its sockets; and through Redis, two nodes against one. Servers
 * run interleaved (A, B, C, A, B, C…), one fresh process per run; the table
 * gives the median of the runs.
 *
 * ```sh
 * ulimit -n 20000   # 10,000 subscribers need as many descriptors per process
 * npm install --prefix /tmp/bun bun@1.3.5   # a bun binary, from npm
 * deno task bench:fanout --bun /tmp/bun/node_modules/.bin/bun \
 *   [--subscribers 1000,10000] [--sizes 64,4096] [--deflate] [--redis]
 *   [--reps 3] [--seconds 3] [--inflight 16]
 * ```
 *
 * `--redis` starts `/usr/bin/redis-server` on a free port and adds the rows
 * "ours, redis, 1 node" and "ours, redis, 2 nodes" (subscribers split evenly).
 *
 * @module
 */

import { Flags } from "../_args.ts";
import { type FanoutResult, runFanout } from "./load.ts";

const flags = new Flags();
const bun = flags.string("bun", "bun");
const subscribers = flags.numbers("subscribers", [1000]);
const sizes = flags.numbers("sizes", [64, 4096]);
const deflate = flags.has("deflate");
const withRedis = flags.has("redis");
const reps = flags.number("reps", 3);
const seconds = flags.number("seconds", 3);
const inflight = flags.number("inflight", 16);
const only = flags.string("only", "");
flags.done();

const root = new URL("../../../", import.meta.url).pathname;
const here = new URL("./", import.meta.url).pathname;

interface Server {
  name: string;
  /** Commands of the processes to start; their URLs are the case's URLs. */
  commands: (redis: string) => string[][];
}

const ours = (
  extra: string[],
) => [
  Deno.execPath(),
  "run",
  "-A",
  `${root}examples/broadcast_server.ts`,
  "--port=0",
  ...extra,
];
const flag = deflate ? ["--deflate"] : [];

const SERVERS: Server[] = [
  { name: "ours", commands: () => [ours(flag)] },
  { name: "bun", commands: () => [[bun, `${here}server_bun.js`, ...flag]] },
  {
    name: "ws",
    commands:
      () => [[Deno.execPath(), "run", "-A", `${here}server_ws.ts`, ...flag]],
  },
  ...(deflate ? [] : [{
    name: "deno",
    commands: () => [[Deno.execPath(), "run", "-A", `${here}server_deno.ts`]],
  }]),
  ...(withRedis
    ? [
      {
        name: "ours, redis, 1 node",
        commands: (r: string) => [ours([...flag, `--redis=${r}`])],
      },
      {
        name: "ours, redis, 2 nodes",
        commands: (r: string) => [
          ours([...flag, `--redis=${r}`]),
          ours([...flag, `--redis=${r}`]),
        ],
      },
    ]
    : []),
].filter((s) => only === "" || only.split(",").includes(s.name));

/** Starts a process and waits for its `listening ws://…` line. */
async function start(
  cmd: string[],
): Promise<{ child: Deno.ChildProcess; url: string }> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = text.match(/listening (ws:\/\/\S+?)(\s|$)/);
    if (m) {
      // Keep draining its output so that it never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done);
      })();
      return { child, url: m[1] };
    }
  }
  child.kill("SIGKILL");
  throw new Error(`${cmd.join(" ")} did not start:\n${text}`);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  const timer = setTimeout(() => {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }, 3_000);
  await child.status;
  clearTimeout(timer);
}

async function startRedis(): Promise<
  { child: Deno.ChildProcess; url: string }
> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command("/usr/bin/redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { child, url: `redis://127.0.0.1:${port}` };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("redis-server did not start");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const redis = withRedis ? await startRedis() : null;
console.log(
  `fan-out: ${inflight} in flight, ${seconds} s per run, ${reps} runs interleaved, deflate ${deflate}`,
);
console.log(
  "| server | subscribers | size | deliveries/s | p50 ms | p99 ms | last p99 ms | lost/dup/reordered |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
try {
  for (const n of subscribers) {
    for (const size of sizes) {
      const results = new Map<string, FanoutResult[]>();
      for (let rep = 0; rep < reps; rep++) {
        for (const server of SERVERS) {
          const procs = [];
          for (const cmd of server.commands(redis?.url ?? "")) {
            procs.push(await start(cmd));
          }
          try {
            const result = await runFanout({
              urls: procs.map((p) => p.url),
              subscribers: n,
              size,
              deflate,
              inflight,
              durationMs: seconds * 1000,
            });
            if (!results.has(server.name)) results.set(server.name, []);
            results.get(server.name)!.push(result);
          } finally {
            for (const p of procs) await stop(p.child);
          }
        }
      }
      for (const [name, rs] of results) {
        const m = (f: (r: FanoutResult) => number) => median(rs.map(f));
        const errors = rs.map((r) => `${r.lost}/${r.duplicated}/${r.reordered}`)
          .join(", ");
        console.log(
          `| ${name} | ${n} | ${size} | ${
            Math.round(m((r) => r.deliveriesPerSec))
          } | ${m((r) => r.p50Ms).toFixed(2)} | ${
            m((r) => r.p99Ms).toFixed(2)
          } | ${m((r) => r.lastP99Ms).toFixed(2)} | ${errors} |`,
        );
      }
    }
  }
} finally {
  if (redis !== null) await stop(redis.child);
}
