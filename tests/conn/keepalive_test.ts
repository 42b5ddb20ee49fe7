import { assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { WebSocketError } from "../../mod.ts";
import { IdleTimer, keepAlive } from "../../src/conn/keepalive.ts";
import { memoryConnPair } from "../_pair.ts";

Deno.test("keepAlive pings while pongs come back, and stops on the signal", async () => {
  const { client, server } = memoryConnPair();
  let pings = 0;
  server.onPing = (payload) => {
    pings++;
    return server.pong(payload);
  };
  const serverReads = server.readMessage().catch((err) => err);
  const clientReads = client.readMessage().catch((err) => err); // sees the pongs
  const stop = new AbortController();
  const alive = client.keepAlive(20, stop.signal);
  await new Promise((r) => setTimeout(r, 150));
  stop.abort();
  await alive; // resolves: every ping was answered
  assertEquals(pings >= 3, true, `${pings} pings`);
  await client.close();
  await Promise.all([serverReads, clientReads]);
});

Deno.test("keepAlive aborts the connection when a ping goes unanswered", async () => {
  const { client, server } = memoryConnPair();
  server.onPing = () => {}; // swallows pings: no pong
  const serverReads = server.readMessage().catch(() => {});
  const clientReads = client.readMessage().catch(() => {});
  const err = await client.keepAlive(20).catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals([err.code, err.closeCode], ["pong_timeout", 1006]);
  assertEquals((await client.closed).code, 1006);
  server.abort();
  await Promise.all([serverReads, clientReads]);
});

Deno.test("keepAlive ends when the connection closes, without an error", async () => {
  let finished = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => resolveClosed = r);
  const loop = keepAlive({
    closed,
    pongs: () => 0,
    finished: () => finished,
    ping: () => Promise.resolve(),
    abort: () => {
      throw new Error("must not abort");
    },
  }, 10_000);
  finished = true;
  resolveClosed();
  await loop; // woke early: no 10 s wait
});

Deno.test("IdleTimer fires only while a read waits and nothing arrives", async () => {
  let reads = 0;
  let waiting = true;
  const fired: WebSocketError[] = [];
  const timer = new IdleTimer(
    100,
    () => reads,
    () => waiting,
    (e) => fired.push(e),
  );
  timer.arm();
  timer.arm(); // one timer at most
  const progress = setInterval(() => reads++, 5);
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(progress);
  assertEquals(fired.length, 0, "progress re-arms instead of firing");
  await new Promise((r) => setTimeout(r, 250));
  assertEquals(fired.map((e) => e.code), ["idle_timeout"]);
  waiting = false;
  timer.arm();
  await new Promise((r) => setTimeout(r, 150));
  assertEquals(fired.length, 1, "no read waiting: no failure");
  timer.stop();
  timer.arm(); // stopped for good
  await new Promise((r) => setTimeout(r, 150));
  assertEquals(fired.length, 1);
  await assertRejects(() => Promise.reject(fired[0]), WebSocketError, "100 ms");
});
