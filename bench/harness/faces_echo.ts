/**
 * What the `WebSocket` face costs: echo round trips through one server, with
 * this module's `WebSocket` class, Deno's built-in one, and `dial`'s connection
 * underneath as the baseline; interleaved (A, B, C, A, B, C…), medians of the
 * repetitions, as messages per second and as ratios to the built-in class.
 *
 * The server is `serve` with compression in a child process, so that the client
 * measured has the main thread to itself. Our class offers compression and gets
 * it (messages under 128 bytes still go uncompressed), and runs once more with
 * it off; the built-in class does not offer it.
 *
 * ```sh
 * deno run -A bench/harness/faces_echo.ts [--reps 3] [--messages 20000] [--size 32] [--window 64] [--smoke]
 * ```
 *
 * @module
 */

import { dial, OpCode, serve } from "../../mod.ts";
import { WebSocket as OurWebSocket } from "../../web.ts";
import { Flags } from "./_args.ts";

if (Deno.args[0] === "--serve") {
  serve({
    hostname: "127.0.0.1",
    port: 0,
    deflate: true,
    onListen: (a) => console.log(a.port),
  }, async (conn) => {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const flags = new Flags();
  const smoke = flags.has("smoke");
  const reps = flags.number("reps", smoke ? 1 : 3);
  const messages = flags.number("messages", smoke ? 500 : 20_000);
  const size = flags.number("size", 32);
  const window = flags.number("window", 64);
  flags.done();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  const url = `ws://127.0.0.1:${port}/`;
  const payload = "x".repeat(size);
  const runs: Record<string, number[]> = {
    conn: [],
    ours: [],
    "ours, no deflate": [],
    builtin: [],
  };
  const plain = (u: string) =>
    new OurWebSocket(u, undefined, { deflate: false });
  try {
    for (let r = 0; r < reps; r++) {
      runs.conn.push(await viaConn(url, payload, messages, window));
      const ours = (u: string) => new OurWebSocket(u);
      const builtin = (u: string) => new WebSocket(u);
      runs.ours.push(await viaClass(ours, url, payload, messages, window));
      runs["ours, no deflate"].push(
        await viaClass(plain, url, payload, messages, window),
      );
      runs.builtin.push(
        await viaClass(builtin, url, payload, messages, window),
      );
    }
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  }
  const median = (xs: number[]) =>
    [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = median(runs.builtin);
  console.log(
    `${messages} messages of ${size} B, ${window} in flight, ${reps} reps (msgs/s, median):`,
  );
  for (const [name, xs] of Object.entries(runs)) {
    console.log(
      `  ${name.padEnd(17)} ${Math.round(median(xs)).toString().padStart(8)}  ${
        (median(xs) / base).toFixed(2)
      }x built-in`,
    );
  }
}

/** Messages per second for a class with the standard interface. */
async function viaClass(
  open: (url: string) => WebSocket,
  url: string,
  payload: string,
  messages: number,
  window: number,
): Promise<number> {
  const ws = open(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const start = performance.now();
  let sent = 0;
  let received = 0;
  await new Promise<void>((resolve) => {
    ws.onmessage = () => {
      received++;
      if (sent < messages) {
        ws.send(payload);
        sent++;
      }
      if (received === messages) resolve();
    };
    for (; sent < Math.min(window, messages); sent++) ws.send(payload);
  });
  const rate = messages / ((performance.now() - start) / 1000);
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
  return rate;
}

/** The same through `dial`'s connection: the cost below the face. */
async function viaConn(
  url: string,
  payload: string,
  messages: number,
  window: number,
): Promise<number> {
  const conn = await dial(url, { deflate: true });
  const start = performance.now();
  let sent = 0;
  for (; sent < Math.min(window, messages); sent++) {
    await conn.writeMessage(OpCode.Text, payload);
  }
  for (let received = 0; received < messages; received++) {
    await conn.readMessage();
    if (sent < messages) {
      await conn.writeMessage(OpCode.Text, payload);
      sent++;
    }
  }
  const rate = messages / ((performance.now() - start) / 1000);
  await conn.close();
  return rate;
}
