/**
 * `examples/broadcast_server.ts` run as a process: the room contract (every
 * message to everyone, the sender included, unchanged and with its type, and
 * nothing else), compression, and N workers on one port: clients on each
 * worker, a worker killed and restarted, all stopped by PID.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { OpCode } from "../../mod.ts";
import { parseFrames } from "../_wire.ts";
import { Collector, RawClient, until } from "./_hub_server.ts";
import { isRunning, startBroadcast } from "./_processes.ts";

Deno.test("broadcast example: every message to every client, sender included, nothing else", async () => {
  const { proc, url } = await startBroadcast([]);
  await using _ = proc;
  await using a = await Collector.connect(url);
  await using b = await Collector.connect(url);
  await using c = await Collector.connect(url);
  await a.conn.writeMessage(OpCode.Text, "hello from a");
  await until(() => c.received.length === 1, "the first message");
  await b.conn.writeMessage(OpCode.Binary, new Uint8Array([0, 1, 2, 255]));
  await c.conn.writeMessage(OpCode.Text, "");
  for (const client of [a, b, c]) {
    assertEquals(await client.waitFor(3), [
      "hello from a",
      "\0\x01\x02\ufffd",
      "",
    ]);
    assertEquals(client.opcodes, [OpCode.Text, OpCode.Binary, OpCode.Text]);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const client of [a, b, c]) assertEquals(client.received.length, 3);
});

Deno.test("broadcast example: --deflate shares one compressed frame", async () => {
  const { proc, url } = await startBroadcast(["--deflate"]);
  await using _ = proc;
  const raw = await RawClient.connect(url, "permessage-deflate");
  await using sender = await Collector.connect(url, { deflate: true });
  try {
    assertStringIncludes(raw.response, "server_no_context_takeover");
    const text = "compress me, compress me, compress me; ".repeat(30);
    await sender.conn.writeMessage(OpCode.Text, text);
    assertEquals(await sender.waitFor(1), [text]);
    await until(() => parseFrames(raw.bytes).length === 1, "the raw frame");
    const [frame] = parseFrames(raw.bytes);
    assertEquals(frame.rsv, 0x40);
    assert(frame.payload.length < text.length / 4);
  } finally {
    await raw.close();
  }
});

Deno.test("broadcast example: two workers on one port, a dead one restarted, all stopped by PID", async () => {
  const { proc, url, pids } = await startBroadcast([
    "--workers=2",
    "--log-connections",
  ]);
  const clients: Collector[] = [];
  try {
    assertEquals(pids.length, 2);
    const perPid = () => {
      const seen = new Set<number>();
      for (const line of proc.lines) {
        const m = line.match(/^connection pid (\d+)/);
        if (m) seen.add(Number(m[1]));
      }
      return seen;
    };
    // The kernel spreads connections by hash: connect until both have some.
    while (perPid().size < 2 && clients.length < 40) {
      clients.push(await Collector.connect(url));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await until(() => perPid().size === 2, "connections on both workers");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await clients[0].conn.writeMessage(OpCode.Text, "to everyone");
    for (const client of clients) {
      assertEquals(await client.waitFor(1), ["to everyone"]);
    }

    const from = proc.lines.length;
    Deno.kill(pids[0], "SIGKILL");
    const m = await proc.waitLine(
      new RegExp(`^worker ${pids[0]} exited .*restarted as (\\d+)`),
      20_000,
      from,
    );
    const restarted = Number(m[1]);
    assert(isRunning(restarted));
    assert(!isRunning(pids[0]));
    // New clients reach the room, whichever worker takes them.
    await using late = await Collector.connect(url);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await late.conn.writeMessage(OpCode.Text, "after the restart");
    assertEquals(await late.waitFor(1), ["after the restart"]);

    for (const client of clients) await client[Symbol.asyncDispose]();
    clients.length = 0;
    proc.kill("SIGTERM");
    assertEquals((await proc.status).code, 0);
    for (const pid of [restarted, pids[1], proc.pid]) {
      await until(() => !isRunning(pid), `process ${pid} to end`);
    }
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
    await proc[Symbol.asyncDispose]();
  }
});
