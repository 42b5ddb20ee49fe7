/**
 * Timeouts and cancellation per operation, over loopback TCP: a peer that never
 * sends (reads aborted before their first byte leave the connection usable;
 * mid-message they fail it with 1011) and a peer that never reads (a write
 * stuck behind a full socket buffer drops the connection, 1006).
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import {
  CloseCode,
  Conn,
  type ConnOptions,
  OpCode,
  Rsv,
  WebSocketError,
} from "../../mod.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import {
  closeCodeOf,
  connPair,
  frame,
  parseFrames,
  readToEnd,
  tcpPair,
} from "../_pair.ts";
import { dec } from "../_wire.ts";

const abortAfter = (ms: number) => AbortSignal.timeout(ms);

async function abortName(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => null, (e) => e);
  assert(err instanceof DOMException, `Expected a DOMException, got ${err}`);
  return err.name;
}

Deno.test("a read aborted before any byte leaves the connection usable, and loses nothing", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  const controller = new AbortController();
  const read = server.readMessage(undefined, { signal: controller.signal });
  setTimeout(() => controller.abort(), 30);
  assertEquals(await abortName(read), "AbortError");
  // Several more, then the message arrives: the pending transport read is reused.
  for (let i = 0; i < 3; i++) {
    const name = await abortName(
      server.readMessage(undefined, { signal: abortAfter(10) }),
    );
    assertEquals(name, "TimeoutError");
  }
  await client.writeMessage(OpCode.Text, "late");
  assertEquals(dec((await server.readMessage()).data), "late");
  // Already aborted: refused at once, still usable.
  const done = AbortSignal.abort();
  await assertRejects(() => server.readMessage(undefined, { signal: done }));
  await client.writeMessage(OpCode.Text, "again");
  const msg = await server.readMessage(undefined, { signal: abortAfter(5000) });
  assertEquals(dec(msg.data), "again");
  await Promise.all([client.close(), server.close()]);
});

Deno.test("close() after an aborted read completes the handshake", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await abortName(server.readMessage(undefined, { signal: abortAfter(10) }));
  const clientEnd = client.readMessage().catch((e) => e);
  await server.close(CloseCode.NormalClosure, "bye");
  assertEquals((await server.closed).code, CloseCode.NormalClosure);
  assertEquals((await clientEnd).code, CloseCode.NormalClosure);
  await client.closed;
});

Deno.test("readTimeout before any byte: TimeoutError, connection usable; mid-message: 1011", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 }, {
    readTimeout: 100,
  });
  assertEquals(await abortName(server.readMessage()), "TimeoutError");
  await client.writeMessage(OpCode.Text, "in time");
  assertEquals(dec((await server.readMessage()).data), "in time");
  // A first fragment, then nothing: the message cannot be read in time.
  await client.writeFrame(false, 0, OpCode.Text, new Uint8Array([0x61]));
  const clientEnd = client.readMessage().catch((e) => e);
  const err = await assertRejects(() => server.readMessage(), WebSocketError);
  assertEquals(err.code, "read_timeout");
  assertEquals(err.closeCode, CloseCode.InternalServerError);
  assertEquals((await clientEnd).code, CloseCode.InternalServerError);
  assertEquals((await server.closed).code, CloseCode.InternalServerError);
  await client.close();
});

Deno.test("a read aborted mid-message fails the connection with 1011 (read_aborted)", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 1000 });
  // Half a frame: the header says 100 bytes, 10 arrive.
  const f = frame(0x82, new Uint8Array(100));
  await tcp.client.write(f.subarray(0, f.length - 90));
  const err = await assertRejects(
    () => server.readMessage(undefined, { signal: abortAfter(50) }),
    WebSocketError,
  );
  assertEquals(err.code, "read_aborted");
  assertEquals(err.name, "WebSocketError");
  assertEquals((err.cause as DOMException).name, "TimeoutError");
  const frames = parseFrames((await readToEnd(tcp.client, 3000)).bytes);
  assertEquals(closeCodeOf(frames[frames.length - 1]), 1011);
  // Sticky: later reads reject with the same error.
  assertEquals(await server.readMessage().catch((e) => e), err);
  tcp.client.close();
});

Deno.test("a streamed read aborted between pieces fails the connection", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await client.writeFrame(false, 0, OpCode.Binary, new Uint8Array(100));
  const msg = await server.readMessageStream({ signal: abortAfter(100) });
  assertEquals(await msg.read(new Uint8Array(1000)), 100);
  const err = await assertRejects(
    () => msg.read(new Uint8Array(1000)),
    WebSocketError,
  );
  assertEquals(err.code, "read_aborted");
  assertEquals((await server.closed).code, CloseCode.InternalServerError);
  await client.close();
});

Deno.test("a frame-level read aborted before its header leaves the connection usable", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await abortName(server.readHeader({ signal: abortAfter(20) }));
  await client.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3]));
  const f = await server.readFrame(new Uint8Array(16), {
    signal: abortAfter(5000),
  });
  assertEquals([...f.payload], [1, 2, 3]);
  await Promise.all([client.close(), server.close()]);
});

/** Writes 1 MiB messages to a peer that never reads until one is refused. */
async function fillUntilRefused(
  conn: { writeMessage: Conn["writeMessage"] },
  options?: { signal?: AbortSignal },
): Promise<unknown> {
  const chunk = new Uint8Array(1 << 20);
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    const err = await conn.writeMessage(OpCode.Binary, chunk, options).then(
      () => null,
      (e) => e,
    );
    if (err !== null) return err;
  }
  return null;
}

Deno.test("writeTimeout drops the connection when the peer never reads (1006)", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, {
    role: "server",
    writeTimeout: 200,
    closeTimeout: 500,
  });
  const err = await fillUntilRefused(server);
  assertInstanceOf(err, WebSocketError);
  assertEquals((err as WebSocketError).code, "write_timeout");
  assertEquals((await server.closed).code, CloseCode.AbnormalClosure);
  const later = await server.readMessage().catch((e) => e);
  assertEquals(later, err);
  tcp.client.close();
});

Deno.test("a write's signal: already aborted sends nothing; aborted while stuck drops the connection", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 500 });
  const reason = new Error("changed my mind");
  await assertRejects(
    () =>
      server.writeMessage(OpCode.Text, "never", {
        signal: AbortSignal.abort(reason),
      }),
    Error,
    "changed my mind",
  );
  await server.writeMessage(OpCode.Text, "sent");
  await server.flush();
  const first = new Uint8Array(6);
  assertEquals(await tcp.client.read(first), 6);
  assertEquals(dec(first.subarray(2)), "sent");
  const err = await fillUntilRefused(server, { signal: abortAfter(300) });
  assertInstanceOf(err, WebSocketError);
  assertEquals((err as WebSocketError).code, "write_aborted");
  assertEquals((await server.closed).code, CloseCode.AbnormalClosure);
  tcp.client.close();
});

function deflateServer(conn: Deno.Conn, options: Partial<ConnOptions>) {
  return new PerMessageDeflateConn(
    new Conn(conn, {
      role: "server",
      rsvAllowed: Rsv.Rsv1,
      closeTimeout: 500,
      ...options,
    }),
    null,
    { engine: zlibEngine() },
  );
}

Deno.test("compressed connections: an early abort keeps them usable, a stuck write times out", async () => {
  const tcp = await tcpPair();
  const client = new PerMessageDeflateConn(
    new Conn(tcp.client, { role: "client", rsvAllowed: Rsv.Rsv1 }),
    null,
    { engine: zlibEngine() },
  );
  const server = deflateServer(tcp.server, { writeTimeout: 200 });
  await abortName(server.readMessage(undefined, { signal: abortAfter(20) }));
  await client.writeMessage(OpCode.Text, "x".repeat(500));
  assertEquals((await server.readMessage()).data.length, 500);
  // The client never reads now: incompressible 1 MiB messages fill the socket.
  const noise = new Uint8Array(1 << 20);
  crypto.getRandomValues(noise.subarray(0, 65536));
  for (let at = 65536; at < noise.length; at += 65536) {
    noise.copyWithin(at, 0, 65536);
    noise[at] ^= at >> 16;
  }
  let err: unknown = null;
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 500 && err === null && Date.now() < deadline; i++) {
    err = await server.writeMessage(OpCode.Binary, noise).then(
      () => null,
      (e) => e,
    );
  }
  assertInstanceOf(err, WebSocketError);
  assertEquals((err as WebSocketError).code, "write_timeout");
  assertEquals((await server.closed).code, CloseCode.AbnormalClosure);
  client.abort();
});

Deno.test("timeouts out of range are refused", () => {
  const { readable, writable } = new TransformStream<Uint8Array>();
  for (const readTimeout of [-1, NaN, 2 ** 31]) {
    let thrown = false;
    try {
      new Conn({ readable, writable }, { role: "server", readTimeout });
    } catch (err) {
      thrown = err instanceof RangeError;
    }
    assert(thrown, `readTimeout ${readTimeout} accepted`);
  }
});

Deno.test("a peer that hangs up during a read with a signal: the read fails as closed, not aborted", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 500 });
  await abortName(server.readMessage(undefined, { signal: abortAfter(10) }));
  tcp.client.close();
  const err = await assertRejects(
    () => server.readMessage(undefined, { signal: abortAfter(5000) }),
    WebSocketError,
  );
  assertEquals(err.code, "closed");
  assertEquals((await server.closed).code, CloseCode.AbnormalClosure);
});

Deno.test("close() with a readTimeout shorter than the peer's answer still completes the handshake", async () => {
  const { client, server } = await connPair({ closeTimeout: 2000 }, {
    readTimeout: 30,
  });
  const closing = server.close(CloseCode.NormalClosure, "bye");
  // The peer answers after several read timeouts have passed.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const err = await client.readMessage().catch((e) => e);
  assertEquals(err.code, CloseCode.NormalClosure);
  await closing;
  assertEquals((await server.closed).code, CloseCode.NormalClosure);
  await client.closed;
});
