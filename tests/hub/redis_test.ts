/**
 * Topics across nodes through a real `redis-server` (started here on 127.0.0.1
 * and a free port): two broadcast server processes against it with clients on
 * each, delivery exactly once and in order per publisher, a node lost, Redis
 * restarted, and nothing left running.
 */

import { assert, assertEquals } from "@std/assert";
import { OpCode } from "../../mod.ts";
import { Hub } from "../../hub.ts";
import { connectRedisBroker } from "../../redis.ts";
import { Collector, HubServer, until } from "./_hub_server.ts";
import {
  freePort,
  isRunning,
  startBroadcast,
  startRedis,
} from "./_processes.ts";

const PER_CLIENT = 25;

/** Checks each sender's messages arrived once each, in the order sent. */
function assertPerSender(received: string[], senders: string[], n: number) {
  for (const sender of senders) {
    const mine = received.filter((m) => m.startsWith(`${sender}:`));
    const expected = Array.from({ length: n }, (_, i) => `${sender}:${i}`);
    assertEquals(mine, expected, `messages of ${sender}`);
  }
}

Deno.test("redis: two server processes, clients on each, every message once and in order", async () => {
  const port = freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const one = await startBroadcast([`--redis=${url}`]);
  const two = await startBroadcast([`--redis=${url}`]);
  const clients: Collector[] = [];
  try {
    for (const server of [one, two, one, two]) {
      clients.push(await Collector.connect(server.url));
    }
    // The nodes subscribe as their first client arrives: give Redis a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const names = clients.map((_, i) => `c${i}`);
    for (let i = 0; i < PER_CLIENT; i++) {
      for (const [k, client] of clients.entries()) {
        const binary = i % 5 === 4;
        const text = `${names[k]}:${i}`;
        await client.conn.writeMessage(
          binary ? OpCode.Binary : OpCode.Text,
          binary ? new TextEncoder().encode(text) : text,
        );
      }
    }
    const total = PER_CLIENT * clients.length;
    for (const client of clients) {
      await client.waitFor(total, 20_000);
      assertPerSender(client.received, names, PER_CLIENT);
      const binaries = client.opcodes.filter((op) => op === OpCode.Binary);
      assertEquals(binaries.length, total / 5);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const client of clients) assertEquals(client.received.length, total);
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
    await one.proc[Symbol.asyncDispose]();
    await two.proc[Symbol.asyncDispose]();
    await redis[Symbol.asyncDispose]();
  }
  for (const pid of [redis.pid, one.proc.pid, two.proc.pid]) {
    assert(!isRunning(pid), `process ${pid} still runs`);
  }
});

Deno.test("redis: a node lost leaves the others talking", async () => {
  const port = freePort();
  await using redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const one = await startBroadcast([`--redis=${url}`]);
  const two = await startBroadcast([`--redis=${url}`]);
  const three = await startBroadcast([`--redis=${url}`]);
  await using _one = one.proc;
  await using _two = two.proc;
  await using _three = three.proc;
  await using a = await Collector.connect(one.url);
  await using b = await Collector.connect(two.url);
  const c = await Collector.connect(three.url);
  await new Promise((resolve) => setTimeout(resolve, 200));
  three.proc.kill("SIGKILL");
  await three.proc.status;
  await c[Symbol.asyncDispose]();
  await a.conn.writeMessage(OpCode.Text, "after the loss");
  assertEquals(await b.waitFor(1), ["after the loss"]);
  assertEquals(await a.waitFor(1), ["after the loss"]);
  assertEquals(redis.lines.some((l) => /error/i.test(l)), false);
});

Deno.test("redis: a restart is survived; what was published during it is lost", async () => {
  const port = freePort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const errors: unknown[] = [];
  const b1 = await connectRedisBroker(url, { onError: (e) => errors.push(e) });
  const b2 = await connectRedisBroker(url, { onError: (e) => errors.push(e) });
  const one = new Hub({ broker: b1 });
  const two = new Hub({ broker: b2 });
  try {
    await using s1 = new HubServer({}, (conn) => one.subscribe(conn, "room"));
    await using s2 = new HubServer({}, (conn) => two.subscribe(conn, "room"));
    await using a = await Collector.connect(s1.url);
    await using b = await Collector.connect(s2.url);
    await s1.waitConns(1);
    await s2.waitConns(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    one.publish("room", "before");
    assertEquals(await b.waitFor(1), ["before"]);

    await redis[Symbol.asyncDispose]();
    await new Promise((resolve) => setTimeout(resolve, 100));
    one.publish("room", "during");
    // Local subscribers still get it; the other node never will.
    assertEquals(await a.waitFor(2), ["before", "during"]);
    await until(() => b1.lost === 1, "the lost publish");

    redis = await startRedis(port);
    // Probe until the subscription is restored (bounded by until's 5 s).
    let probes = 0;
    await until(
      () => {
        if (b.received.some((m) => m.startsWith("probe"))) return true;
        one.publish("room", `probe ${probes++}`);
        return false;
      },
      "the reconnection",
      15_000,
    );
    two.publish("room", "back");
    await a.waitFor(2 + probes + 1, 10_000);
    assert(a.received.includes("back"));
    assert(!b.received.includes("during"));
    assert(errors.length > 0);
  } finally {
    await one.close();
    await two.close();
    await redis[Symbol.asyncDispose]();
  }
  assert(!isRunning(redis.pid));
});
