/**
 * Streaming a file as one fragmented message. The sender reads the file in
 * pieces and sends it with `streamMessage` in fragments of `--chunk` bytes, then
 * its size and SHA-256; the receiver hashes the fragments as they arrive (frame
 * by frame, so memory stays at one fragment whatever the file's size) and answers
 * whether both agree.
 *
 * ```sh
 * # a server that receives and verifies one file per connection
 * deno run --allow-net examples/stream_file.ts receive [--port 9004] [--hostname 127.0.0.1]
 * # stream a file to it
 * deno run --allow-net --allow-read examples/stream_file.ts send FILE \
 *   [--url ws://127.0.0.1:9004] [--chunk 16384]
 * ```
 *
 * The sender exits with 0 when the receiver confirmed size and hash, 1 otherwise.
 * The receiver takes files up to 1 GiB and fragments up to 1 MiB.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import {
  CloseCode,
  dial,
  OpCode,
  serve,
  type WebSocketConn,
} from "@wsx/websocket";

const MAX_FILE = 1 << 30;
const MAX_FRAGMENT = 1 << 20;
const decoder = new TextDecoder();

/** The sender's trailer after the file, and the receiver's answer. */
interface Summary {
  size: number;
  sha256: string;
}
interface Verdict extends Summary {
  ok: boolean;
  fragments: number;
}

/**
 * Reads one binary message frame by frame, hashing each fragment; answers pings
 * on the way (at this level control frames are ours to handle).
 */
async function receiveFile(
  conn: WebSocketConn,
): Promise<Summary & { fragments: number }> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(MAX_FRAGMENT);
  const control = new Uint8Array(125);
  let size = 0;
  let fragments = 0;
  for (;;) {
    const header = await conn.readHeader();
    if (header.opcode === OpCode.Ping) {
      await conn.pong(await conn.readPayload(control));
      continue;
    }
    if (header.opcode === OpCode.Pong) continue;
    if (header.opcode === OpCode.Close) {
      throw new Error("The sender closed before the file ended");
    }
    if (fragments === 0 && header.opcode !== OpCode.Binary) {
      throw new TypeError("Expected the file as a binary message");
    }
    const payload = await conn.readPayload(buf);
    hash.update(payload);
    size += payload.length;
    fragments++;
    if (header.fin) break;
  }
  return { size, sha256: hash.digest("hex"), fragments };
}

async function receive(conn: WebSocketConn): Promise<void> {
  let got;
  try {
    got = await receiveFile(conn);
  } catch (err) {
    console.error(`Receive failed: ${(err as Error).message}`);
    conn.abort();
    return;
  }
  const trailer = await conn.readMessage();
  const claimed = JSON.parse(decoder.decode(trailer.data)) as Summary;
  const ok = claimed.size === got.size && claimed.sha256 === got.sha256;
  console.log(
    `Received ${got.size} bytes in ${got.fragments} fragments, sha256 ${got.sha256}: ${
      ok ? "verified" : "MISMATCH"
    }`,
  );
  const verdict: Verdict = { ok, ...got };
  await conn.writeMessage(OpCode.Text, JSON.stringify(verdict));
  for await (const _ of conn) {
    // Nothing more is expected: wait for the sender to close.
  }
}

async function receiver(hostname: string, port: number): Promise<number> {
  const stop = new AbortController();
  const server = serve({
    hostname,
    port,
    signal: stop.signal,
    readLimit: MAX_FILE,
    maxFrameSize: MAX_FRAGMENT,
    maxFragments: MAX_FILE / 64,
    onListen: (addr) =>
      console.log(`Receiving files on ws://${addr.hostname}:${addr.port}`),
  }, receive);
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await server.finished;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  console.log("Receiver stopped");
  return 0;
}

async function sender(
  path: string,
  url: string,
  chunk: number,
): Promise<number> {
  using file = await Deno.open(path);
  const { size } = await file.stat();
  const conn = await dial(url, { chunkSize: Math.max(chunk, 4096) });
  const hash = createHash("sha256");
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    transform(piece, controller) {
      hash.update(piece);
      controller.enqueue(piece);
    },
  });
  const started = performance.now();
  await conn.streamMessage(
    OpCode.Binary,
    file.readable.pipeThrough(hashing),
    chunk,
  );
  const sent: Summary = { size, sha256: hash.digest("hex") };
  await conn.writeMessage(OpCode.Text, JSON.stringify(sent));
  const verdict = JSON.parse(
    decoder.decode((await conn.readMessage()).data),
  ) as Verdict;
  const ms = performance.now() - started;
  await conn.close(CloseCode.NormalClosure);
  const ok = verdict.ok && verdict.size === sent.size &&
    verdict.sha256 === sent.sha256;
  console.log(
    `Sent ${size} bytes in ${verdict.fragments} fragments of up to ${chunk} bytes ` +
      `in ${ms.toFixed(0)} ms; receiver ${ok ? "verified" : "DISAGREES"}: ` +
      `${verdict.size} bytes, sha256 ${verdict.sha256}`,
  );
  return ok ? 0 : 1;
}

function usage(): number {
  console.error(
    "Usage: stream_file.ts receive [--port 9004] [--hostname 127.0.0.1]\n" +
      "       stream_file.ts send FILE [--url ws://127.0.0.1:9004] [--chunk 16384]",
  );
  return 2;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      hostname: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "9004" },
      url: { type: "string", default: "ws://127.0.0.1:9004" },
      chunk: { type: "string", default: "16384" },
    },
    allowPositionals: true,
  });
  const [mode, path] = positionals;
  if (mode === "receive") {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return usage();
    return await receiver(values.hostname, port);
  }
  if (mode === "send" && path !== undefined) {
    const chunk = Number(values.chunk);
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_FRAGMENT) {
      return usage();
    }
    return await sender(path, values.url, chunk);
  }
  return usage();
}

if (import.meta.main) Deno.exit(await main());
