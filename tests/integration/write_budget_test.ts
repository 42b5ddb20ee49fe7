/**
 * One write budget shared by several connections over loopback TCP whose peers
 * read slowly or not at all: their queues together never pass the budget,
 * writes past it are refused with `write_buffer_full` (1013) and counted, the
 * connections stay usable, and the budget drains to 0 once the peers read.
 */

import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { Conn, OpCode, WebSocketError, WriteBudget } from "../../mod.ts";
import { parseFrames, readToEnd, tcpPair } from "../_pair.ts";

const CONNS = 4;
const SIZE = 256 * 1024;
const WRITES = 20;

Deno.test("a shared write budget bounds what slow readers' queues hold together", async () => {
  const budget = new WriteBudget(4 << 20);
  const pairs = await Promise.all(Array.from({ length: CONNS }, tcpPair));
  const servers = pairs.map((tcp) =>
    new Conn(tcp.server, { role: "server", writeBudget: budget })
  );
  // Per connection 5 MiB, past its budget share: the kernel takes a few MiB.
  const writes = servers.map((server, c) =>
    Array.from({ length: WRITES }, (_, i) => {
      const payload = new Uint8Array(SIZE).fill(c * WRITES + i);
      return server.writeMessage(OpCode.Binary, payload).then(
        () => i,
        (err) => err,
      );
    })
  );
  await new Promise((r) => setTimeout(r, 200));
  assert(budget.buffered > 0 && budget.buffered <= budget.limit);
  assert(budget.peak <= budget.limit, `peak ${budget.peak}`);
  const waiting = servers.reduce((n, s) => n + s.bufferedAmount, 0);
  // Beyond the budget, each connection holds at most its two scratchpads.
  assert(waiting <= budget.limit + CONNS * 2 * (4096 + 14), `${waiting} wait`);

  // The peers read: every accepted message arrives, the budget drains.
  const reading = pairs.map((tcp) => readToEnd(tcp.client, 10_000));
  const results = await Promise.all(writes.map((w) => Promise.all(w)));
  await Promise.all(servers.map((s) => s.flush()));
  assertEquals(budget.buffered, 0);
  const refused = results.flat().filter((r) => r instanceof WebSocketError);
  assert(refused.length > 0, "nothing was refused");
  assertEquals(budget.refused, refused.length);
  for (const err of refused) {
    assertInstanceOf(err, WebSocketError);
    assertEquals([err.code, err.closeCode], ["write_buffer_full", 1013]);
  }
  // Still usable: one more message each goes out after the refusals.
  await Promise.all(servers.map((s) => s.writeMessage(OpCode.Text, "after")));
  await Promise.all(servers.map((s) => s.flush()));
  servers.forEach((s) => s.abort());
  const got = await Promise.all(reading);
  got.forEach(({ bytes }, c) => {
    const frames = parseFrames(bytes);
    const accepted = results[c].filter((r) => typeof r === "number");
    assertEquals(
      frames.slice(0, -1).map((f) => f.payload[0]),
      accepted.map((i) => (c * WRITES + i) & 0xff),
    );
    assertEquals(frames.at(-1)!.payload.length, 5);
  });
  pairs.forEach((tcp) => tcp.client.close());
});

Deno.test("a connection's close frame counts against the budget but is never refused", async () => {
  const budget = new WriteBudget(300 * 1024);
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, {
    role: "server",
    writeBudget: budget,
    closeTimeout: 200,
  });
  const big = new Uint8Array(SIZE);
  const first = server.writeMessage(OpCode.Binary, big);
  const second = server.writeMessage(OpCode.Binary, big).catch((e) => e);
  assertEquals((await second).code, "write_buffer_full");
  // The close frame goes through though the budget is spent.
  const closing = server.close(1000, "bye");
  const reading = readToEnd(tcp.client, 5000);
  await first;
  const { bytes } = await reading;
  await closing.catch(() => {});
  const frames = parseFrames(bytes);
  assertEquals(frames.map((f) => f.opcode), [OpCode.Binary, 0x8]);
  assertEquals(budget.buffered, 0);
  assertEquals(budget.refused, 1);
  tcp.client.close();
});
