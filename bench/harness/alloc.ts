/**
 * JS heap bytes allocated per echoed message (`node:v8`
 * `getHeapStatistics().total_allocated_bytes`), for our server against a raw
 * `Deno.Conn` echo doing the same reads and writes: the runtime's own floor.
 *
 * 1. End to end: a server process echoes N messages from this process (one in
 *    flight, pre-encoded masked frames) and reports its allocation over them,
 *    after a warm-up, with its read and write calls counted.
 * 2. Isolated: `readMessage` and `writeMessage` in a loop over an in-memory
 *    transport, minus the same transport calls made bare.
 *
 * `deno run -A bench/harness/alloc.ts [--messages N] [--sizes 32,1024,65536]
 * [--reps 3] [--smoke] [--baseline-dir DIR]`;
 * `--profile` prints the top allocation sites of each server instead (V8's
 * sampling heap profiler, collected objects included). With `--baseline-dir`,
 * our server also runs from that checkout of this repository (its own
 * `alloc.ts --serve`), interleaved with ours, as the "ours (baseline)" columns
 * of the end-to-end table; the isolated table is this checkout's only.
 *
 * @module
 */

import { getHeapStatistics } from "node:v8";
import { Conn, type ConnHooks, OpCode, ReadLimit } from "../../mod.ts";
import { accept } from "../../src/handshake/accept.ts";
import { ReplayTransport } from "../_replay.ts";
import { type Site, startSampling, stopSampling } from "./_heap_profile.ts";
import {
  BENCH_KEY,
  encodeFrame,
  FIN,
  Op,
  randomBytes,
  repeat,
} from "../_frames.ts";
import { upgrade } from "./load/_upgrade.ts";
import { Flags } from "./_args.ts";
import {
  baselineCheckout,
  type Checkout,
  OURS,
  scriptIn,
  startDeno,
} from "./_process.ts";

const allocated = () =>
  (getHeapStatistics() as { total_allocated_bytes?: number })
    .total_allocated_bytes ?? NaN;

/**
 * The floor (`raw`), the floor with one `.then()` layer on each read and write
 * (`raw-then`: what any promise-returning API over `Deno.Conn` pays at least), our
 * server reading in place, or reading into its own buffer, or reading in place
 * with every lifecycle hook set (to functions that do nothing).
 */
type Kind = "raw" | "raw-then" | "ours" | "ours-buf" | "ours-hooks";

/** Every hook, doing nothing: what setting hooks costs by itself. */
const NOOP_HOOKS: ConnHooks = {
  onReadFrame() {},
  onReadMessage() {},
  onWriteFrame() {},
  onWriteMessage() {},
  onReadError() {},
  onWriteError() {},
  onClose() {},
};

/** What a server measured over the counted messages. */
interface ServerReport {
  kind: Kind;
  size: number;
  messages: number;
  bytesPerMessage: number;
  readsPerMessage: number;
  writesPerMessage: number;
  /** With `--profile`: the top allocation sites, in bytes per message. */
  sites?: Site[];
}

/** A `Deno.Conn` that counts its `read` and `write` calls, allocating nothing. */
class CountingConn {
  reads = 0;
  writes = 0;
  #conn: Deno.Conn;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  get readable(): ReadableStream<Uint8Array> {
    return this.#conn.readable;
  }
  get writable(): WritableStream<Uint8Array> {
    return this.#conn.writable;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    return this.#conn.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    this.writes++;
    return this.#conn.write(p);
  }
  close(): void {
    this.#conn.close();
  }
}

const same = <T>(value: T): T => value;

/**
 * Room the floor's read buffer has beyond one frame. A server cannot size its
 * reads to the next frame, and on Linux that matters: after a read that filled
 * its buffer exactly, the runtime (tokio) keeps the socket marked readable and
 * tries the next read at once, which this harness's one-message ping-pong often
 * rewards with data; after a short read it waits for epoll, through a pending op
 * promise. Measured at 32 B: 1,650 B per message with an exact-size buffer
 * against 1,925 with room to spare, for the same calls.
 */
const FLOOR_SPARE_ROOM = 4096;

/**
 * The floor: reads each whole frame into a buffer with room to spare (as our
 * server and `load/server_raw.ts` read), writes the frame back. With `layer`,
 * each call's promise goes through one `.then()` before the await.
 */
async function rawEcho(
  conn: CountingConn,
  frameSize: number,
  onMessage: (n: number) => void,
  layer: boolean,
): Promise<void> {
  const buf = new Uint8Array(frameSize + FLOOR_SPARE_ROOM);
  const frame = buf.subarray(0, frameSize);
  for (let n = 1;; n++) {
    let filled = 0;
    while (filled < frameSize) {
      const reading = conn.read(filled === 0 ? buf : buf.subarray(filled));
      const got = await (layer ? reading.then(same) : reading);
      if (got === null) return;
      filled += got;
    }
    const writing = conn.write(frame);
    await (layer ? writing.then(same) : writing);
    onMessage(n);
  }
}

async function oursEcho(
  conn: CountingConn,
  onMessage: (n: number) => void,
  buf?: Uint8Array,
  hooks?: ConnHooks,
): Promise<void> {
  const ws = await accept(conn, { readLimit: ReadLimit.Large, hooks });
  try {
    for (let n = 1;; n++) {
      const msg = await ws.readMessage(buf);
      await ws.writeMessage(msg.opcode, msg.data);
      onMessage(n);
    }
  } catch {
    ws.abort();
  }
}

/** Server mode: echo one connection, measure between `warmup` and `total` messages. */
async function serve(
  kind: Kind,
  size: number,
  warmup: number,
  total: number,
  profile: boolean,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port }));
  const tcp = await listener.accept();
  tcp.setNoDelay(true);
  listener.close();
  const conn = new CountingConn(tcp);
  let start = 0, reads = 0, writes = 0;
  let report: ServerReport | null = null;
  let sampling: Promise<void> = Promise.resolve();
  const onMessage = (n: number) => {
    if (n === warmup) {
      reads = conn.reads;
      writes = conn.writes;
      start = allocated();
      if (profile) sampling = startSampling();
    } else if (n === total) {
      const counted = total - warmup;
      if (profile) {
        sampling = sampling.then(stopSampling).then((sites) => {
          report!.sites = sites.slice(0, 20).map((site) => ({
            stack: site.stack,
            bytes: Math.round(site.bytes / counted),
          }));
        });
      }
      report = {
        kind,
        size,
        messages: counted,
        bytesPerMessage: (allocated() - start) / counted,
        readsPerMessage: (conn.reads - reads) / counted,
        writesPerMessage: (conn.writes - writes) / counted,
      };
    }
  };
  const frameSize = encodeFrame(FIN, new Uint8Array(size), BENCH_KEY).length;
  await (kind.startsWith("raw")
    ? rawEcho(conn, frameSize, onMessage, kind === "raw-then")
    : oursEcho(
      conn,
      onMessage,
      kind === "ours-buf" ? new Uint8Array(size) : undefined,
      kind === "ours-hooks" ? NOOP_HOOKS : undefined,
    ));
  await sampling;
  console.log(JSON.stringify(report));
}

/** Client side: sends `total` messages one at a time, waiting for each echo. */
async function drive(
  port: number,
  kind: Kind,
  size: number,
  total: number,
) {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  const raw = kind.startsWith("raw");
  if (!raw) await upgrade(tcp, `127.0.0.1:${port}`);
  const frame = encodeFrame(FIN | Op.Binary, randomBytes(size), BENCH_KEY);
  // Echoes come back as long as the frame (masked, raw) or 4 bytes shorter (ours).
  const expect = raw ? frame.length : frame.length - 4;
  const buf = new Uint8Array(Math.max(expect, 65536));
  for (let i = 0; i < total; i++) {
    for (let at = 0; at < frame.length;) {
      at += await tcp.write(frame.subarray(at));
    }
    for (let got = 0; got < expect;) {
      const n = await tcp.read(buf.subarray(0, expect - got));
      if (n === null) throw new Error("Server closed early");
      got += n;
    }
  }
  tcp.close();
}

/**
 * One end-to-end run: a server process (this file's `--serve` mode, from
 * `checkout`) echoes `total` messages from this process and reports.
 */
async function endToEnd(
  kind: Kind,
  size: number,
  total: number,
  profile = false,
  checkout: Checkout = OURS,
): Promise<ServerReport> {
  // Long enough for our figure to settle: at 32 B, ours minus the floor came
  // out at 207 B after 5,000 messages (55,000 counted), 126 B after 20,000
  // (40,000 counted) and 53 B after 20,000 (380,000 counted).
  const warmup = Math.min(20_000, Math.floor(total / 5));
  // The child protocol, as every checkout's alloc.ts takes it.
  const child = startDeno(scriptIn(checkout, "alloc.ts"), {
    args: [
      "--serve",
      kind,
      String(size),
      String(warmup),
      String(total),
      profile ? "--profile" : "",
    ],
    checkout,
    exposeGc: false,
  });
  try {
    const port = await child.port(30_000);
    await drive(port, kind, size, total);
    return await child.nextJson<ServerReport>(600_000);
  } finally {
    await child.stop();
  }
}

/** Bytes allocated per iteration of `step`, over `n` iterations after a warm-up. */
async function perCall(
  n: number,
  step: () => Promise<unknown>,
): Promise<number> {
  for (let i = 0; i < Math.min(n, 2000); i++) await step();
  const start = allocated();
  for (let i = 0; i < n; i++) await step();
  return (allocated() - start) / n;
}

/**
 * In-memory isolation: framing bytes per message beyond the transport calls it
 * makes. Each figure is the loop's allocation per message, minus the empty loop's
 * (the harness), minus the bare transport calls' at the same calls per message.
 */
async function isolated(
  size: number,
  n: number,
): Promise<Record<string, number>> {
  const frame = encodeFrame(FIN | Op.Binary, randomBytes(size), BENCH_KEY);
  const stream = repeat(frame, Math.max(1, Math.ceil(65536 / frame.length)));
  const payload = randomBytes(size);
  const done = Promise.resolve();
  const harness = await perCall(n, () => done);

  const bare = new ReplayTransport(stream);
  const chunk = new Uint8Array(4096);
  const perRead = await perCall(n, () => bare.read(chunk)) - harness;
  const perWrite = await perCall(n, () => bare.write(chunk)) - harness;

  const reading = new ReplayTransport(stream);
  const reader = new Conn(reading, {
    role: "server",
    readLimit: ReadLimit.Large,
  });
  const inPlace = await perCall(n, () => reader.readMessage()) - harness;
  const readsPerMessage = reading.reads / (n + Math.min(n, 2000));
  const callerReader = new Conn(new ReplayTransport(stream), {
    role: "server",
    readLimit: ReadLimit.Large,
  });
  const buf = new Uint8Array(size);
  const intoBuf = await perCall(n, () => callerReader.readMessage(buf)) -
    harness;

  const writing = new ReplayTransport(new Uint8Array(0));
  const writer = new Conn(writing, { role: "server" });
  const write =
    await perCall(n, () => writer.writeMessage(OpCode.Binary, payload)) -
    harness;
  const writesPerMessage = writing.writes / (n + Math.min(n, 2000));
  const client = new Conn(new ReplayTransport(new Uint8Array(0)), {
    role: "client",
  });
  const clientWrite =
    await perCall(n, () => client.writeMessage(OpCode.Binary, payload)) -
    harness;
  return {
    size,
    readInPlace: inPlace - readsPerMessage * perRead,
    readIntoBuf: intoBuf - readsPerMessage * perRead,
    readsPerMessage,
    writeServer: write - writesPerMessage * perWrite,
    writeClient: clientWrite - writesPerMessage * perWrite,
    writesPerMessage,
    perRead,
    perWrite,
  };
}

const fmt = (v: number) => v.toFixed(v < 10 ? 2 : 0);

/** The median report of `reps` runs of one kind (by bytes per message). */
function medianReport(reports: ServerReport[]): ServerReport {
  const sorted = [...reports].sort((a, b) =>
    a.bytesPerMessage - b.bytesPerMessage
  );
  return sorted[sorted.length >> 1];
}

const KINDS: Kind[] = ["raw", "raw-then", "ours", "ours-buf", "ours-hooks"];

/** Runs both measurements and returns the report as Markdown. */
export async function measure(
  messages: number,
  sizes: number[],
  reps = 1,
  baseline: Checkout | null = null,
): Promise<string> {
  const b = baseline !== null;
  const lines = [
    `Allocation per echoed message, ${
      messages.toLocaleString("en-US")
    } messages, median of ${reps} interleaved runs ` +
    `(Deno ${Deno.version.deno}).\n`,
    "### End to end (server process)\n",
    "Floor per call: the raw echo's bytes per read or write call. " +
    "Framing: ours minus that floor times our calls per message.\n",
    "| size | raw echo B/msg | raw + then() per call | ours B/msg |" +
    (b ? " ours (baseline) B/msg |" : "") + " ours − raw |" +
    (b ? " ours (baseline) − raw |" : "") +
    " ours, readMessage(buf) − raw | ours, all hooks set, B/msg | floor per call | framing, in place | framing, readMessage(buf) | reads/msg raw, ours | writes/msg raw, ours |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" +
    (b ? " --- | --- |" : ""),
  ];
  if (b) {
    lines.splice(
      1,
      0,
      `ours (baseline): ${baseline.root}, its own \`alloc.ts --serve ours\`.\n`,
    );
  }
  for (const size of sizes) {
    const runs = new Map<Kind, ServerReport[]>(KINDS.map((k) => [k, []]));
    const baselineRuns: ServerReport[] = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const kind of KINDS) {
        runs.get(kind)!.push(await endToEnd(kind, size, messages));
        if (b && kind === "ours") {
          baselineRuns.push(
            await endToEnd(kind, size, messages, false, baseline),
          );
        }
      }
    }
    const [raw, layered, ours, intoBuf, hooked] = KINDS.map((k) =>
      medianReport(runs.get(k)!)
    );
    const theirs = b ? medianReport(baselineRuns) : null;
    const perCall = raw.bytesPerMessage /
      (raw.readsPerMessage + raw.writesPerMessage);
    const framing = (r: ServerReport) =>
      r.bytesPerMessage - perCall * (r.readsPerMessage + r.writesPerMessage);
    lines.push(
      `| ${size} | ${fmt(raw.bytesPerMessage)} | ${
        fmt(layered.bytesPerMessage)
      } | ${fmt(ours.bytesPerMessage)} | ` +
        (theirs ? `${fmt(theirs.bytesPerMessage)} | ` : "") +
        `${fmt(ours.bytesPerMessage - raw.bytesPerMessage)} | ` +
        (theirs
          ? `${fmt(theirs.bytesPerMessage - raw.bytesPerMessage)} | `
          : "") +
        `${fmt(intoBuf.bytesPerMessage - raw.bytesPerMessage)} | ` +
        `${fmt(hooked.bytesPerMessage)} | ` +
        `${fmt(perCall)} | ${fmt(framing(ours))} | ${
          fmt(framing(intoBuf))
        } | ` +
        `${fmt(raw.readsPerMessage)}, ${fmt(ours.readsPerMessage)} | ` +
        `${fmt(raw.writesPerMessage)}, ${fmt(ours.writesPerMessage)} |`,
    );
  }
  lines.push(
    "\n### Isolated, in memory (bytes per message over the bare transport calls)\n",
    "| size | readMessage() | readMessage(buf) | reads/msg | writeMessage server | writeMessage client | writes/msg | bare read, write |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const size of sizes) {
    const r = await isolated(size, messages);
    lines.push(
      `| ${size} | ${fmt(r.readInPlace)} | ${fmt(r.readIntoBuf)} | ${
        fmt(r.readsPerMessage)
      } | ` +
        `${fmt(r.writeServer)} | ${fmt(r.writeClient)} | ` +
        `${fmt(r.writesPerMessage)} | ${fmt(r.perRead)}, ${fmt(r.perWrite)} |`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const args = Deno.args;
  if (args[0] === "--serve") {
    // The child protocol (positional, as every checkout's alloc.ts takes it).
    const [, kind, size, warmup, total] = args;
    await serve(
      kind as Kind,
      Number(size),
      Number(warmup),
      Number(total),
      args[5] === "--profile",
    );
    Deno.exit(0);
  }
  const flags = new Flags(args);
  const smoke = flags.has("smoke");
  const messages = flags.number("messages", smoke ? 2000 : 100_000, 10);
  const sizes = flags.numbers("sizes", smoke ? [32] : [32, 1024, 65536]);
  const reps = flags.number("reps", smoke ? 1 : 3, 1);
  const profile = flags.has("profile");
  const baselineDir = flags.string("baseline-dir");
  flags.done();
  const baseline = baselineDir === undefined
    ? null
    : baselineCheckout(baselineDir);
  if (profile) {
    const runs: [Kind, Checkout][] = KINDS.flatMap((kind) =>
      baseline !== null && kind === "ours"
        ? [[kind, OURS], [kind, baseline]] as [Kind, Checkout][]
        : [[kind, OURS]] as [Kind, Checkout][]
    );
    for (const size of sizes) {
      for (const [kind, checkout] of runs) {
        const report = await endToEnd(kind, size, messages, true, checkout);
        console.log(
          `\n${kind}${checkout.suffix}, ${size} B: top allocation sites (bytes/message)`,
        );
        for (const site of report.sites ?? []) {
          console.log(`${String(site.bytes).padStart(6)}  ${site.stack}`);
        }
      }
    }
  } else {
    console.log(await measure(messages, sizes, reps, baseline));
  }
}
