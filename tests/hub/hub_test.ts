/**
 * The hub over real sockets: delivery, `except`, unsubscribing, removal on
 * close, slow subscribers under both policies, shared compressed frames, and
 * one transport write per subscriber per turn.
 */

import { assert, assertEquals, assertGreater, assertThrows } from "@std/assert";
import { constants, inflateRawSync } from "node:zlib";
import { OpCode, type WebSocketConn } from "../../mod.ts";
import { zlibEngine } from "../../deflate.ts";
import type { DeflateEngine } from "../../deflate.ts";
import {
  type Broker,
  type BrokerListener,
  Hub,
  TopicListeners,
} from "../../hub.ts";
import { concat, dec, parseFrames } from "../_wire.ts";
import { Collector, HubServer, RawClient, until } from "./_hub_server.ts";

function subscribeAll(hub: Hub, topic = "room") {
  return (conn: WebSocketConn) => hub.subscribe(conn, topic);
}

Deno.test("hub: a publish reaches every subscriber, except the one named", async () => {
  const hub = new Hub();
  await using server = new HubServer({}, subscribeAll(hub));
  await using a = await Collector.connect(server.url);
  await using b = await Collector.connect(server.url);
  await using c = await Collector.connect(server.url);
  await server.waitConns(3);
  assertEquals(hub.subscriberCount("room"), 3);
  assertEquals(hub.publish("room", "one"), 3);
  assertEquals(hub.publish("room", new Uint8Array([1, 2])), 3);
  for (const client of [a, b, c]) {
    assertEquals(await client.waitFor(2), ["one", "\x01\x02"]);
    assertEquals(client.opcodes, [OpCode.Text, OpCode.Binary]);
  }
  const first = server.conns[0].conn;
  assertEquals(hub.publish("room", "two", { except: first }), 2);
  assertEquals(hub.publish("nobody", "x"), 0);
  const others = [a, b, c].filter((_, i) => server.conns[i].conn !== first);
  for (const client of others) await client.waitFor(3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const counts = [a, b, c].map((client) => client.received.length).sort();
  assertEquals(counts, [2, 3, 3]);
  assertEquals(hub.stats.published, 4);
  assertEquals(hub.stats.sent, 3 + 3 + 2);
});

Deno.test("hub: subscribe, unsubscribe, isSubscribed, topicsOf", async () => {
  const hub = new Hub();
  await using server = new HubServer({}, subscribeAll(hub));
  await using a = await Collector.connect(server.url);
  await using b = await Collector.connect(server.url);
  await server.waitConns(2);
  const [sa] = server.conns.map((s) => s.conn);
  assertEquals(hub.subscribe(sa, "room"), false);
  assertEquals(hub.subscribe(sa, "other"), true);
  assert(hub.isSubscribed(sa, "other"));
  assertEquals(hub.topicsOf(sa).sort(), ["other", "room"]);
  assertEquals(hub.unsubscribe(sa, "room"), true);
  assertEquals(hub.unsubscribe(sa, "room"), false);
  assert(!hub.isSubscribed(sa, "room"));
  assertEquals(hub.publish("room", "room only"), 1);
  assertEquals(hub.publish("other", "other only"), 1);
  const got = [await a.waitFor(1), await b.waitFor(1)].flat().sort();
  assertEquals(got, ["other only", "room only"]);
});

Deno.test("hub: a connection that closes leaves its topics", async () => {
  const hub = new Hub();
  await using server = new HubServer({}, (conn) => {
    hub.subscribe(conn, "room");
    hub.subscribe(conn, "side");
  });
  await using stays = await Collector.connect(server.url);
  await server.waitConns(1);
  const leaves = await Collector.connect(server.url);
  await server.waitConns(2);
  assertEquals(hub.subscriberCount("side"), 2);
  await leaves[Symbol.asyncDispose]();
  await until(() => hub.subscriberCount("room") === 1, "the removal");
  assertEquals(hub.subscriberCount("side"), 1);
  assertEquals(hub.publish("room", "after"), 1);
  assertEquals(await stays.waitFor(1), ["after"]);
  const gone = server.conns[1].conn;
  assertEquals(hub.topicsOf(gone), []);
});

Deno.test("hub: options out of range are refused", () => {
  assertThrows(() => new Hub({ maxQueuedBytes: 0 }), RangeError);
  assertThrows(() => new Hub({ maxQueuedBytes: NaN }), RangeError);
});

const BIG = 64 * 1024;
const ROUNDS = 400;

/** How far the publisher may run ahead of the readers, in messages (half the queue bound). */
const LEAD = 8;

/**
 * Publishes ROUNDS messages of BIG bytes, 4 per turn, never more than LEAD
 * ahead of `readers`: the pace of the subscribers that read, which a stuck
 * one must not slow (an unpaced flood in the test's one process can outrun
 * them on a busy machine, and their own queues then drop too).
 */
async function flood(hub: Hub, readers: Collector[]): Promise<void> {
  for (let i = 0; i < ROUNDS; i++) {
    hub.publish("room", new Uint8Array(BIG).fill(i & 0xff));
    if (i % 4 !== 3) continue;
    await new Promise((resolve) => setTimeout(resolve, 0));
    await until(
      () => readers.every((r) => r.received.length >= i + 1 - LEAD),
      `the readers within ${LEAD} messages of ${i + 1}`,
    );
  }
}

for (const overflow of ["drop", "close"] as const) {
  Deno.test(`hub: a subscriber that never reads delays nobody (${overflow})`, async () => {
    const hub = new Hub({ maxQueuedBytes: 1 << 20, overflow });
    await using server = new HubServer(
      { readLimit: 1 << 20 },
      subscribeAll(hub),
    );
    const stuck = await RawClient.connect(server.url, "", false);
    await using a = await Collector.connect(server.url, { readLimit: 1 << 20 });
    await using b = await Collector.connect(server.url, { readLimit: 1 << 20 });
    await server.waitConns(3);
    try {
      await flood(hub, [a, b]);
      for (const client of [a, b]) {
        await client.waitFor(ROUNDS, 20_000).catch((err) => {
          throw new Error(
            `${client.received.length} ${JSON.stringify(hub.stats)}`,
            { cause: err },
          );
        });
        assertEquals(client.received.length, ROUNDS);
      }
      if (overflow === "drop") {
        assertGreater(hub.stats.dropped, 0);
        assertEquals(hub.stats.closed, 0);
        assertEquals(hub.subscriberCount("room"), 3);
      } else {
        assertEquals(hub.stats.closed, 1);
        assertEquals(hub.subscriberCount("room"), 2);
      }
      assertEquals(hub.stats.sent + hub.stats.dropped >= 2 * ROUNDS, true);
    } finally {
      await stuck.close();
    }
  });
}

Deno.test("hub: fast subscribers get every message in order past a stuck one", async () => {
  const hub = new Hub({ maxQueuedBytes: 1 << 20 });
  await using server = new HubServer({}, subscribeAll(hub));
  const stuck = await RawClient.connect(server.url, "", false);
  await using a = await Collector.connect(server.url);
  await server.waitConns(2);
  try {
    const filler = "x".repeat(16 * 1024);
    for (let i = 0; i < 2_000; i++) {
      hub.publish("room", `${String(i).padStart(5, "0")}${filler}`);
      if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const got = await a.waitFor(2_000, 20_000);
    const order = got.map((text) => Number(text.slice(0, 5)));
    assertEquals(order, Array.from({ length: 2_000 }, (_, i) => i));
    assertGreater(hub.stats.dropped, 0);
  } finally {
    await stuck.close();
  }
});

/** The zlib engine, counting the messages its compressors compress. */
function countingEngine(): { engine: DeflateEngine; compressed: () => number } {
  const inner = zlibEngine();
  let count = 0;
  const engine: DeflateEngine = {
    name: "counting-zlib",
    limitsWindow: inner.limitsWindow,
    decompressor: (options) => inner.decompressor(options),
    compressor(options) {
      const c = inner.compressor(options);
      return {
        compress(data) {
          count++;
          return c.compress(data);
        },
        reset: () => c.reset(),
        close: () => c.close(),
      };
    },
  };
  return { engine, compressed: () => count };
}

function inflate(payload: Uint8Array): string {
  const tail = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
  const options = { finishFlush: constants.Z_SYNC_FLUSH };
  return dec(inflateRawSync(concat(payload, tail), options));
}

Deno.test("hub: peers without context takeover share one compressed frame", async () => {
  const { engine, compressed } = countingEngine();
  const hub = new Hub();
  await using server = new HubServer(
    { deflate: { engine } },
    subscribeAll(hub),
  );
  const offer = "permessage-deflate; server_no_context_takeover";
  const x = await RawClient.connect(server.url, offer);
  const y = await RawClient.connect(server.url, offer);
  await using takeover = await Collector.connect(server.url, { deflate: true });
  await server.waitConns(3);
  try {
    assert(x.response.includes("server_no_context_takeover"), x.response);
    const text = "the quick brown fox jumps over the lazy dog; ".repeat(40);
    hub.publish("room", text);
    await new Promise((resolve) => setTimeout(resolve, 0));
    hub.publish("room", text);
    assertEquals(await takeover.waitFor(2), [text, text]);
    await until(() => parseFrames(x.bytes).length === 2, "two frames at x");
    await until(() => parseFrames(y.bytes).length === 2, "two frames at y");
    assertEquals(x.bytes, y.bytes);
    const frames = parseFrames(x.bytes);
    for (const f of frames) {
      assertEquals(f.rsv, 0x40);
      assertEquals(f.opcode, OpCode.Text);
      assertEquals(inflate(f.payload), text);
      assert(f.payload.length < text.length / 4);
    }
    // Once per message for both sharing peers, once per message for the other.
    assertEquals(compressed(), 4);
  } finally {
    await x.close();
    await y.close();
  }
});

Deno.test("hub: publishes within one turn leave in one transport write", async () => {
  const hub = new Hub();
  await using server = new HubServer({}, subscribeAll(hub));
  await using a = await Collector.connect(server.url);
  await using b = await Collector.connect(server.url);
  await server.waitConns(2);
  const before = server.conns.map((s) => s.transport.writes);
  for (let i = 0; i < 5; i++) hub.publish("room", `sync ${i}`);
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
    hub.publish("room", `micro ${i}`);
  }
  await a.waitFor(10);
  await b.waitFor(10);
  const after = server.conns.map((s) => s.transport.writes);
  assertEquals(after.map((n, i) => n - before[i]), [1, 1]);
  assertEquals(a.received.slice(0, 2), ["sync 0", "sync 1"]);
  assertEquals(a.received[9], "micro 4");
});

Deno.test("hub: uncompressed peers get the same bytes in one write each", async () => {
  const hub = new Hub();
  await using server = new HubServer({}, subscribeAll(hub));
  const x = await RawClient.connect(server.url);
  const y = await RawClient.connect(server.url);
  await server.waitConns(2);
  try {
    hub.publish("room", "alpha");
    hub.publish("room", new Uint8Array([7, 8, 9]));
    await x.waitBytes(2 + 5 + 2 + 3);
    await y.waitBytes(2 + 5 + 2 + 3);
    assertEquals(x.bytes, y.bytes);
    const frames = parseFrames(x.bytes);
    assertEquals(frames.map((f) => f.opcode), [OpCode.Text, OpCode.Binary]);
  } finally {
    await x.close();
    await y.close();
  }
});

Deno.test("hub: the asynchronous default engine shares its frame too", async () => {
  const hub = new Hub();
  await using server = new HubServer({ deflate: true }, subscribeAll(hub));
  const offer = "permessage-deflate; server_no_context_takeover";
  const x = await RawClient.connect(server.url, offer);
  const y = await RawClient.connect(server.url, offer);
  await using plain = await Collector.connect(server.url);
  await server.waitConns(3);
  try {
    const text = "abcabcabc ".repeat(100);
    hub.publish("room", text);
    hub.publish("room", "short");
    assertEquals(await plain.waitFor(2), [text, "short"]);
    await until(() => parseFrames(x.bytes).length === 2, "two frames at x");
    await until(() => parseFrames(y.bytes).length === 2, "two frames at y");
    assertEquals(x.bytes, y.bytes);
    const [big, small] = parseFrames(x.bytes);
    assertEquals(inflate(big.payload), text);
    assertEquals([small.rsv, dec(small.payload)], [0, "short"]);
  } finally {
    await x.close();
    await y.close();
  }
});

/** A broker inside the process: what two nodes' hubs would see through Redis. */
class MemoryBroker implements Broker {
  #listeners = new TopicListeners();
  published = 0;
  publish(topic: string, message: Uint8Array): void {
    this.published++;
    const copy = message.slice();
    queueMicrotask(() => this.#listeners.dispatch(topic, copy));
  }
  subscribe(topic: string, listener: BrokerListener): void {
    this.#listeners.add(topic, listener);
  }
  unsubscribe(topic: string, listener: BrokerListener): void {
    this.#listeners.delete(topic, listener);
  }
  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }
}

Deno.test("hub: through a broker, every node's subscribers get a publish once", async () => {
  const broker = new MemoryBroker();
  const one = new Hub({ broker });
  const two = new Hub({ broker });
  await using s1 = new HubServer({}, subscribeAll(one));
  await using s2 = new HubServer({}, subscribeAll(two));
  await using a = await Collector.connect(s1.url);
  await using b = await Collector.connect(s2.url);
  await s1.waitConns(1);
  await s2.waitConns(1);
  one.publish("room", "from one");
  two.publish("room", "from two", { opcode: OpCode.Binary });
  await a.waitFor(2);
  await b.waitFor(2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(a.received.sort(), ["from one", "from two"]);
  assertEquals(b.received.sort(), ["from one", "from two"]);
  assertEquals(b.opcodes.sort(), [OpCode.Text, OpCode.Binary]);
  assertEquals(broker.published, 2);
  await one.close();
  await two.close();
});
