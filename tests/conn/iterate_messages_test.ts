/**
 * iterateMessages() over a scripted `readMessage()`: a CloseError ends the
 * iteration, any other error is thrown once, concurrent `next()` calls queue,
 * and `return()` ends it without reading.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { CloseError, WebSocketError } from "../../src/codec/errors.ts";
import { iterateMessages } from "../../src/conn/iterate_messages.ts";
import type { Message } from "../../src/conn/websocket_conn.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { connPair } from "../_pair.ts";
import { echoOnce, heapPerConn, idleConn } from "../_heap.ts";
import { dec, enc } from "../_wire.ts";

/** A connection whose reads are settled by the test, in order. */
class ScriptedConn {
  reads = 0;
  #waiting: PromiseWithResolvers<Message>[] = [];
  #concurrent = 0;
  maxConcurrent = 0;

  readMessage(): Promise<Message> {
    this.reads++;
    const step = Promise.withResolvers<Message>();
    this.#waiting.push(step);
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.#concurrent);
    const done = () => void this.#concurrent--;
    step.promise.then(done, done);
    return step.promise;
  }

  /** Settles the oldest pending read with a text message. */
  send(text: string): void {
    this.#next().resolve({ opcode: 1, data: enc(text) } as Message);
  }

  /** Rejects the oldest pending read. */
  fail(err: unknown): void {
    this.#next().reject(err);
  }

  #next(): PromiseWithResolvers<Message> {
    const step = this.#waiting.shift();
    if (step === undefined) throw new Error("No read is pending");
    return step;
  }
}

/** Lets pending promise reactions run. */
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("iterateMessages yields each message, then ends at a CloseError", async () => {
  const conn = new ScriptedConn();
  const got: string[] = [];
  const loop = (async () => {
    for await (const m of iterateMessages(conn)) got.push(dec(m.data));
  })();
  for (const text of ["a", "b", "c"]) {
    await tick();
    conn.send(text);
  }
  await tick();
  conn.fail(new CloseError(1000, "bye"));
  await loop;
  assertEquals(got, ["a", "b", "c"]);
  assertEquals(conn.reads, 4);
});

Deno.test("iterateMessages throws any other error once, then is done without reading", async () => {
  const conn = new ScriptedConn();
  const it = iterateMessages(conn);
  const failure = new WebSocketError("invalid_utf8", "Not UTF-8");
  const step = it.next();
  conn.fail(failure);
  const err = await step.catch((e) => e);
  assertStrictEquals(err, failure);
  assertEquals(await it.next(), { done: true, value: undefined });
  assertEquals(conn.reads, 1, "no read after the failure");
});

Deno.test("iterateMessages: a TypeError or a plain value is thrown too, not taken for the end", async () => {
  for (const failure of [new TypeError("busy"), "a string"]) {
    const conn = new ScriptedConn();
    const it = iterateMessages(conn);
    const step = it.next();
    conn.fail(failure);
    await assertRejects(() => step);
    assertEquals((await it.next()).done, true);
  }
});

Deno.test("iterateMessages: concurrent next() calls wait their turn, one read at a time", async () => {
  const conn = new ScriptedConn();
  const it = iterateMessages(conn);
  const first = it.next();
  const second = it.next();
  const third = it.next();
  await tick();
  assertEquals(conn.reads, 1, "the second next() waits for the first");
  conn.send("one");
  const a = await first;
  assertEquals([a.done, dec(a.value.data)], [false, "one"]);
  await tick();
  assertEquals(conn.reads, 2);
  conn.send("two");
  const b = await second;
  assertEquals(dec(b.value.data), "two");
  await tick();
  conn.fail(new CloseError(1001, ""));
  assertEquals(await third, { done: true, value: undefined });
  assertEquals(conn.maxConcurrent, 1);
});

Deno.test("iterateMessages: a next() queued behind a failing one gets the end, not a second read", async () => {
  const conn = new ScriptedConn();
  const it = iterateMessages(conn);
  const first = it.next().catch((e) => e);
  const second = it.next();
  conn.fail(new WebSocketError("closed", "Gone"));
  assertInstanceOf(await first, WebSocketError);
  assertEquals(await second, { done: true, value: undefined });
  assertEquals(conn.reads, 1);
});

Deno.test("iterateMessages: return() ends the iteration and reads nothing more", async () => {
  const conn = new ScriptedConn();
  const it = iterateMessages(conn);
  const step = it.next();
  conn.send("kept");
  assertEquals(dec((await step).value.data), "kept");
  assertEquals(await it.return!(), { done: true, value: undefined });
  assertEquals(await it.next(), { done: true, value: undefined });
  assertEquals(conn.reads, 1);
  // A break out of for await calls return(): the connection is left alone.
  const again = iterateMessages(conn);
  const loop = (async () => {
    for await (const m of again) {
      assertEquals(dec(m.data), "once");
      break;
    }
  })();
  await tick();
  conn.send("once");
  await loop;
  assertEquals(conn.reads, 2);
});

Deno.test("iterateMessages returns itself as its async iterator and reuses the result object", async () => {
  const conn = new ScriptedConn();
  const it = iterateMessages(conn);
  assertStrictEquals(it[Symbol.asyncIterator](), it);
  const a = it.next();
  conn.send("x");
  const first = await a;
  const b = it.next();
  conn.send("y");
  const second = await b;
  assertStrictEquals(
    first,
    second,
    "one result object, valid until the next step",
  );
  assertEquals(dec(second.value.data), "y");
});

Deno.test("iterateMessages: pending next() calls get distinct results holding their own messages, over TCP", async () => {
  const { client, server } = await connPair();
  const it = client[Symbol.asyncIterator]();
  const steps = [it.next(), it.next(), it.next()];
  for (const text of ["one", "two", "three"]) {
    await server.writeMessage(OpCode.Text, text);
  }
  const results = await Promise.all(steps);
  assertEquals(new Set(results).size, 3, "three result objects");
  assertEquals(new Set(results.map((r) => r.value)).size, 3, "three messages");
  assertEquals(results.map((r) => dec(r.value.data)), ["one", "two", "three"]);
  // Back to one pending step at a time: the result object is reused again.
  await server.writeMessage(OpCode.Binary, enc("four"));
  const a = await it.next();
  assertEquals(dec(a.value.data), "four");
  await server.writeMessage(OpCode.Binary, enc("five"));
  const b = await it.next();
  assertStrictEquals(a, b);
  assertEquals(dec(b.value.data), "five");
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a message iterator waiting for the next message costs under 255 B of heap beyond the read (291 with arrow callbacks and their context)", async () => {
  const bare = await heapPerConn(async () => {
    const conn = idleConn();
    await echoOnce(conn);
    conn.readMessage().catch(() => {});
    return conn;
  });
  const iterated = await heapPerConn(async () => {
    const conn = idleConn();
    await echoOnce(conn);
    const it = conn[Symbol.asyncIterator]();
    it.next().catch(() => {});
    return it;
  });
  const cost = iterated - bare;
  assert(cost > 0 && cost < 255, `the iterator costs ${cost.toFixed(0)} B`);
});
