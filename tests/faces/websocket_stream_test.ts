/**
 * The `WebSocketStream` face: round trips and closes with our server, the
 * streams' backpressure in both directions, failures, and the same scenario run
 * by Deno's unstable class (in a `--unstable-net` subprocess) and by ours.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertRejects,
  assertThrows,
} from "@std/assert";
import {
  CloseError,
  OpCode,
  serve,
  type WebSocketConn,
  type WebSocketServer,
} from "../../mod.ts";
import { toWebSocketStream, WebSocketStream } from "../../web.ts";
import { runScenario } from "./_stream_scenario.ts";

/** Echo through the server-side stream face, compressed, subprotocol "echo". */
function echoServer(): WebSocketServer {
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    deflate: true,
    protocols: ["echo"],
    onListen() {},
  }, async (conn) => {
    const { readable, writable } = await toWebSocketStream(conn).opened;
    await readable.pipeTo(writable);
  });
}

Deno.test("WebSocketStream: a round trip and a close with our server's stream face", async () => {
  await using server = echoServer();
  const report = await runScenario(
    WebSocketStream,
    `ws://127.0.0.1:${server.addr.port}/`,
  );
  assertEquals(report.protocol, "echo");
  assert(report.extensions.startsWith("permessage-deflate"));
  assertEquals(report.echoed, ["hello ".repeat(40), [1, 2, 3, 250]]);
  assertEquals(report.binaryClass, "Uint8Array");
  assertEquals(report.closed, { closeCode: 4000, reason: "" });
  assertEquals(report.readDone, true);
});

Deno.test("WebSocketStream: Deno's unstable class and ours see the same scenario", async () => {
  await using server = echoServer();
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const script = new URL("./_stream_scenario.ts", import.meta.url).pathname;
  const run = async (which: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-net", "-A", script, which, url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, err);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  const [deno, ours] = await Promise.all([run("deno"), run("ours")]);
  // Only compression may differ: Deno's client does not offer it.
  assertEquals(deno.extensions, "");
  assert(ours.extensions.startsWith("permessage-deflate"));
  delete deno.extensions;
  delete ours.extensions;
  assertEquals(ours, deno);
  assertEquals(ours.echoed, ["hello ".repeat(40), [1, 2, 3, 250]]);
});

Deno.test("WebSocketStream: a close by the server ends readable and resolves closed", async () => {
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (conn) => {
      await conn.writeMessage(OpCode.Text, "last words");
      await conn.close(4001, "bye");
    },
  );
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`);
  const { readable } = await wss.opened;
  const got: unknown[] = [];
  for await (const m of readable) got.push(m);
  assertEquals(got, ["last words"]);
  assertEquals(await wss.closed, { closeCode: 4001, reason: "bye" });
});

const MESSAGE = 64 * 1024;
const COUNT = 400; // 25 MiB: far more than loopback socket buffers hold

Deno.test("WebSocketStream: nothing is read while readable is not pulled", async () => {
  let settled = 0;
  let done!: Promise<void>;
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (conn) => {
      done = (async () => {
        const payload = new Uint8Array(MESSAGE);
        for (let i = 0; i < COUNT; i++) {
          await conn.writeMessage(OpCode.Binary, payload);
          await conn.flush();
          settled++;
        }
      })();
      return done.then(() => conn.close());
    },
  );
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`, {
    deflate: false,
  });
  const { readable } = await wss.opened;
  await new Promise((r) => setTimeout(r, 300));
  const stalled = settled;
  assertLess(stalled, COUNT / 2, "the server's writes went on");
  let received = 0;
  for await (const m of readable) {
    assertInstanceOf(m, Uint8Array);
    received += m.length;
  }
  await done;
  assertEquals([settled, received], [COUNT, COUNT * MESSAGE]);
  console.log(`writes settled while not pulling: ${stalled} of ${COUNT}`);
});

Deno.test("WebSocketStream: writes settle only as the bytes reach the socket", async () => {
  let conn!: WebSocketConn;
  let release!: () => void;
  const go = new Promise<void>((r) => release = r);
  let received = 0;
  await using server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (c) => {
      conn = c;
      await go;
      try {
        for (;;) received += (await c.readMessage()).data.length;
      } catch (err) {
        if (!(err instanceof CloseError)) throw err;
      }
    },
  );
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`, {
    deflate: false,
  });
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  let settled = 0;
  const payload = new Uint8Array(MESSAGE);
  const writes: Promise<void>[] = [];
  // Queued at once: the stream holds them and hands them on one at a time.
  for (let i = 0; i < COUNT; i++) {
    writes.push(writer.write(payload).then(() => void settled++));
  }
  assertEquals(writer.desiredSize, 1 - COUNT);
  await new Promise((r) => setTimeout(r, 300));
  const stalled = settled;
  assertLess(stalled, COUNT / 2, "every write settled without a reader");
  assert(conn !== undefined);
  release();
  await Promise.all(writes);
  wss.close();
  await wss.closed;
  assertEquals(received, writes.length * MESSAGE);
  console.log(`writes settled while the server did not read: ${stalled}`);
});

Deno.test("WebSocketStream: a refused handshake rejects opened and closed; an abort too", async () => {
  await using server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError() {},
    onRequest() {
      throw new Error("no");
    },
  }, () => {});
  const refused = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`);
  await assertRejects(() => refused.opened);
  await assertRejects(() => refused.closed);
  const controller = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const aborted = new WebSocketStream(`ws://127.0.0.1:${listener.addr.port}/`, {
    signal: controller.signal,
  });
  const accepted = await listener.accept(); // the socket, never answered
  controller.abort();
  await assertRejects(() => aborted.opened);
  await assertRejects(() => aborted.closed);
  accepted.close();
  listener.close();
});

Deno.test("WebSocketStream: the standard's argument errors; other chunks go as text", async () => {
  await using server = echoServer();
  assertThrows(() => new WebSocketStream("ftp://x/"), DOMException);
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.addr.port}/`);
  const bad = assertThrows(() => wss.close({ closeCode: 1001 }));
  assertEquals((bad as DOMException).name, "InvalidAccessError");
  const long = assertThrows(() => wss.close({ reason: "x".repeat(124) }));
  assertEquals((long as DOMException).name, "SyntaxError");
  const { readable, writable } = await wss.opened;
  // What is not bytes goes as text, as a string.
  const writer = writable.getWriter();
  await writer.write(42 as unknown as string);
  assertEquals((await readable.getReader().read()).value, "42");
  wss.close();
  assertEquals((await wss.closed).closeCode, 1000);
});
