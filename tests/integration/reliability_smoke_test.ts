/**
 * Keeps the reliability benchmarks working (the idle-memory and soak runs, at
 * tiny sizes), and guards what the idle-memory figures depend on.
 */

import { assert, assertEquals } from "@std/assert";
import { accept, Conn, OpCode } from "../../mod.ts";
import { MemoryConn } from "../fuzz/_memory.ts";
import { frame, parseFrames } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

const bench = (file: string) =>
  new URL(`../../bench/harness/${file}`, import.meta.url).pathname;

async function run(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = dec(stdout);
  assertEquals(code, 0, dec(stderr) + out);
  return out;
}

Deno.test("a direct-mode connection never creates its transport's streams", async () => {
  let touched = 0;
  class Counting extends MemoryConn {
    override get readable(): ReadableStream<Uint8Array> {
      touched++;
      return super.readable;
    }
    override get writable(): WritableStream<Uint8Array> {
      touched++;
      return super.writable;
    }
  }
  const request = enc(
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const t = new Counting([
    request,
    frame(0x81, "hi"),
    frame(0x88, new Uint8Array([3, 232])),
  ]);
  const conn = await accept(t);
  const msg = await conn.readMessage();
  await conn.writeMessage(OpCode.Text, msg.data);
  await conn.readMessage().catch(() => {});
  await conn.closed;
  // A Deno.Conn builds a stream per getter: a few KiB per idle connection.
  assertEquals(touched, 0);
  const answer = t.written();
  const text = new TextDecoder("latin1").decode(answer);
  assert(text.startsWith("HTTP/1.1 101 "));
  const frames = parseFrames(answer.subarray(text.indexOf("\r\n\r\n") + 4));
  assertEquals(frames.map((f) => f.opcode), [OpCode.Text, OpCode.Close]);
});

Deno.test("a connection reads into 128 bytes until a read fills them, then into its whole chunk", async () => {
  const small = frame(0x81, "hi");
  const burst = new Uint8Array(
    Array.from({ length: 20 }, () => [...frame(0x82, new Uint8Array(1000))])
      .flat(),
  );
  const t = new MemoryConn([small, small, burst]);
  const conn = new Conn(t, { role: "server", chunkSize: 4096 });
  for (let i = 0; i < 22; i++) await conn.readMessage();
  conn.abort();
  // Idle and small traffic: a 128-byte buffer. The burst fills it: 4 KiB after.
  assertEquals(t.reads.slice(0, 3), [128, 128, 128]);
  assert(t.reads.slice(3).every((n) => n > 128), String(t.reads));
  assert(t.reads.slice(3).every((n) => n <= 4096), String(t.reads));
  assert(t.reads.slice(3).some((n) => n > 2048), String(t.reads));
});

Deno.test("bench/harness/idle_memory.ts measures every server and the floor in smoke mode", async () => {
  const out = await run([
    bench("idle_memory.ts"),
    "--smoke",
    "--server",
    "all",
    "--json",
  ]);
  const results = out.trim().split("\n").map((line) => JSON.parse(line));
  assertEquals(results.map((r) => r.server), [
    "raw",
    "ours",
    "accept",
    "echo",
    "deno",
    "ws",
    "node-ws",
  ]);
  for (const r of results) {
    assertEquals(r.after.connections, r.connections);
    assert(r.after.rss > 0 && r.perConnection.rss > -Infinity);
  }
});

Deno.test("bench/harness/soak.ts echoes through induced disconnects with no other error in smoke mode", async () => {
  const out = await run([bench("soak.ts"), "--smoke", "--json"]);
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  assert(r.messages > 0, "messages were echoed");
  assertEquals(r.clientErrors, 0, r.clientErrorSamples.join("; "));
  assertEquals(r.unexpectedServerErrors, 0, JSON.stringify(r.serverErrors));
  const induced = r.induced.close + r.induced.abort + r.induced.midFrame;
  assert(induced > 0, "disconnects were induced");
  assertEquals(r.memory.afterClose.connections, 0);
  // Half over TLS, half compressed (each compressed client checks that it was).
  assertEquals([r.tlsClients, r.deflateClients], [10, 10]);
  assert(r.heapReturned, "the server's heap came back to its start");
});

Deno.test("bench/harness/conn_heap.ts counts the heap per idle Conn, and one echo leaves no scratchpad", async () => {
  const measure = async (...flags: string[]) =>
    JSON.parse(
      await run([
        "--v8-flags=--expose-gc",
        bench("conn_heap.ts"),
        "--connections",
        "2000",
        "--json",
        ...flags,
      ]),
    );
  const idle = await measure();
  const echoed = await measure("--exchange");
  assert(idle.heap > 0, `${idle.heap} B of heap per Conn`);
  // The 4 KiB write scratchpad went back to the pool after the echo.
  assert(echoed.external < 2048, `${echoed.external} B external per Conn`);
});
