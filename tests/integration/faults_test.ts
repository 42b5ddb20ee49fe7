/**
 * Faults over real sockets: a peer that resets mid-frame, half-closes, vanishes
 * during the closing handshake or never answers it, fails the TLS handshake, or
 * goes silent; writes after the end (in memory: no socket needed). Each yields
 * one clear error, nothing is left unhandled or open (the sanitizers check), and
 * `serve()` keeps serving.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import {
  accept,
  CloseError,
  Conn,
  dial,
  OpCode,
  serve,
  type ServeOptions,
  WebSocketError,
} from "../../mod.ts";
import {
  closeCodeOf,
  frame,
  parseFrames,
  readBytes,
  readToEnd,
  tcpPair,
} from "../_pair.ts";
import { rawPair } from "../_raw_peer.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import { dec, enc } from "../_wire.ts";

const UPGRADE = enc(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);

/** An echo server that records what `onError` hears and what its handlers end with. */
function echoServer(options: ServeOptions = {}) {
  const errors: unknown[] = [];
  const ends: unknown[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: (err) => errors.push(err),
    ...options,
  }, async (conn) => {
    try {
      for (;;) {
        const msg = await conn.readMessage();
        await conn.writeMessage(msg.opcode, msg.data);
      }
    } catch (err) {
      ends.push(err);
      throw err;
    }
  });
  return { server, errors, ends, port: server.addr.port };
}

/** A raw client past the handshake. */
async function rawClient(port: number): Promise<Deno.TcpConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  await tcp.write(UPGRADE);
  const head = await readBytes(tcp, 129, 3000);
  assert(dec(head).startsWith("HTTP/1.1 101"));
  return tcp;
}

/** Proves the server still serves: a fresh client echoes. */
async function stillServes(url: string): Promise<void> {
  const conn = await dial(url);
  await conn.writeMessage(OpCode.Text, "still here");
  assertEquals(dec((await conn.readMessage()).data), "still here");
  await conn.close();
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert(check(), "condition not met in time");
}

Deno.test("a peer that resets mid-frame fails its connection once; serve() goes on", async () => {
  const { server, errors, ends, port } = echoServer();
  try {
    const tcp = await rawClient(port);
    // A ping gets a pong we never read: closing with unread data sends a reset.
    await tcp.write(frame(0x89, "p"));
    await tcp.write(frame(0x82, new Uint8Array(1000)).subarray(0, 300));
    await new Promise((r) => setTimeout(r, 50));
    tcp.close();
    await until(() => ends.length === 1);
    assertInstanceOf(ends[0], WebSocketError);
    assertEquals(
      [(ends[0] as WebSocketError).code, (ends[0] as WebSocketError).closeCode],
      ["closed", 1006],
    );
    await until(() => errors.length === 1);
    assertEquals(errors, ends);
    await stillServes(`ws://127.0.0.1:${port}`);
    assertEquals(errors.length, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a half-closed peer still gets its echo, then the server sees one clean error", async () => {
  const { server, ends, port } = echoServer();
  try {
    const tcp = await rawClient(port);
    await tcp.write(frame(0x81, "last words"));
    await tcp.closeWrite();
    const { bytes, ended } = await readToEnd(tcp, 3000);
    tcp.close();
    const frames = parseFrames(bytes);
    assertEquals(dec(frames[0].payload), "last words");
    assert(ended, "the server closed its side too");
    await until(() => ends.length === 1);
    assertEquals((ends[0] as WebSocketError).code, "closed");
    await stillServes(`ws://127.0.0.1:${port}`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a peer that vanishes during the closing handshake ends close() at once", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 10_000 });
  const started = Date.now();
  const closing = server.close(1000, "bye");
  // The peer reads our close frame and hangs up without answering.
  const got = await readBytes(tcp.client, 7, 3000);
  assertEquals(closeCodeOf(parseFrames(got)[0]), 1000);
  tcp.client.close();
  await closing;
  assert(Date.now() - started < 5000, "close() did not wait out its timeout");
  assertEquals((await server.closed).code, 1006);
  await assertRejects(
    () => server.writeMessage(OpCode.Text, "late"),
    WebSocketError,
  );
});

Deno.test("a client whose server vanishes during the closing handshake ends close() too", async () => {
  const tcp = await tcpPair();
  const client = new Conn(tcp.client, {
    role: "client",
    closeTimeout: 10_000,
  });
  const started = Date.now();
  const closing = client.close(4001);
  const got = await readBytes(tcp.server, 8, 3000);
  assertEquals(got[0], 0x88);
  tcp.server.close();
  await closing;
  assert(Date.now() - started < 5000);
  assertEquals((await client.closed).code, 1006);
});

Deno.test("shutdown() is bounded by the close timeout when a client never answers", async () => {
  const { server, port } = echoServer({ closeTimeout: 300 });
  const tcp = await rawClient(port);
  const started = Date.now();
  await server.shutdown();
  assert(Date.now() - started < 3000, "shutdown waited past the close timeout");
  const { bytes, ended } = await readToEnd(tcp, 3000);
  assertEquals(closeCodeOf(parseFrames(bytes)[0]), 1001);
  assert(ended);
  tcp.close();
});

Deno.test("idleTimeout through serve() drops a silent client with 1001 and spares a busy one", async () => {
  const { server, ends, port } = echoServer({ idleTimeout: 400 });
  try {
    const silent = await rawClient(port);
    const busy = await dial(`ws://127.0.0.1:${port}`);
    for (let i = 0; i < 12; i++) {
      await busy.writeMessage(OpCode.Text, `tick ${i}`);
      assertEquals(dec((await busy.readMessage()).data), `tick ${i}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { bytes, ended } = await readToEnd(silent, 3000);
    silent.close();
    assertEquals(closeCodeOf(parseFrames(bytes)[0]), 1001);
    assert(ended);
    assertEquals(ends.length, 1);
    assertEquals((ends[0] as WebSocketError).code, "idle_timeout");
    await busy.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("TLS handshake failures stay with their connection; each is reported once", async () => {
  const { server, errors, port } = echoServer({
    cert: SERVER_CERT,
    key: SERVER_KEY,
  });
  try {
    // A client that does not trust the certificate gives up on its side.
    const untrusted = await dial(`wss://localhost:${port}/`, {
      timeout: 3000,
    }).catch((err) => err);
    assertInstanceOf(untrusted, Error);
    assert(!(untrusted instanceof WebSocketError));
    // A client that sends half a ClientHello and hangs up.
    const partial = await Deno.connect({ hostname: "127.0.0.1", port });
    await partial.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    partial.close();
    // A client speaking plain HTTP to the TLS port.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(UPGRADE);
    await readToEnd(plain, 3000);
    plain.close();
    await until(() => errors.length === 3);
    const good = await dial(`wss://localhost:${port}/`, { caCerts: [CA_CERT] });
    await good.writeMessage(OpCode.Text, "secure");
    assertEquals(dec((await good.readMessage()).data), "secure");
    await good.close();
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(errors.length, 3, String(errors));
    assertEquals(server.connections, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("writes after the end fail with 'closed', every time, never unhandled", async () => {
  // No socket needed: what ends the connection is a close frame or an abort.
  // After the peer's close frame.
  const a = rawPair();
  const closedByPeer = new Conn(a.transport, { role: "server" });
  await a.peer.write(frame(0x88, new Uint8Array([0x03, 0xe8])));
  assertInstanceOf(
    await closedByPeer.readMessage().catch((e) => e),
    CloseError,
  );
  // After an abort of ours.
  const b = rawPair();
  const aborted = new Conn(b.transport, { role: "server" });
  aborted.abort();
  for (const conn of [closedByPeer, aborted]) {
    for (let i = 0; i < 3; i++) {
      const err = await conn.writeMessage(OpCode.Text, "late").catch((e) => e);
      assertInstanceOf(err, WebSocketError);
      assertEquals(err.code, "closed");
    }
    await assertRejects(() => conn.ping(), WebSocketError);
    await assertRejects(
      () =>
        conn.streamMessage(
          OpCode.Binary,
          ReadableStream.from([new Uint8Array(10)]),
        ),
      WebSocketError,
    );
  }
  a.peer.close();
  b.peer.close();
});

Deno.test("after a reset, the buffered write shows the failure at flush, once, and the read ends", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  // Unread data on the client's side turns its close into a reset.
  await server.writeMessage(OpCode.Binary, new Uint8Array(100));
  await server.flush();
  await new Promise((r) => setTimeout(r, 50));
  tcp.client.close();
  const readErr = await server.readMessage().catch((e) => e);
  assertInstanceOf(readErr, WebSocketError);
  assertEquals(readErr.closeCode, 1006);
  assertEquals((await server.closed).code, 1006);
  const writeErr = await server.writeMessage(OpCode.Binary, new Uint8Array(10))
    .then(() => server.flush()).catch((e) => e);
  assertInstanceOf(writeErr, WebSocketError);
  assertEquals(writeErr.code, "closed");
});

Deno.test("slowloris clients through serve() get 408 within the timeout while others connect", async () => {
  const { server, errors, port } = echoServer({ handshakeTimeout: 300 });
  try {
    const started = Date.now();
    const slow = await Promise.all(
      Array.from(
        { length: 20 },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    // Each drips its request one byte every 20 ms: it would need seconds.
    let sent = 0;
    const drip = setInterval(() => {
      for (const c of slow) {
        c.write(UPGRADE.subarray(sent, sent + 1)).catch(() => {});
      }
      sent++;
    }, 20);
    try {
      await stillServes(`ws://127.0.0.1:${port}`);
      const answers = await Promise.all(slow.map((c) => readToEnd(c, 3000)));
      for (const { bytes, ended } of answers) {
        assert(dec(bytes).startsWith("HTTP/1.1 408 "));
        assert(ended, "the socket is closed");
      }
      assert(Date.now() - started < 2500, "dropped within the timeout");
      assert(sent < UPGRADE.length);
    } finally {
      clearInterval(drip);
      for (const c of slow) c.close();
    }
    await until(() => errors.length === 20);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a failure with the peer's bytes still unread reaches the peer as its close code", async () => {
  // Closing with unread input sends a reset, which used to destroy the close
  // frame: Deno's client saw 1006 instead of 1009 every time.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    for (const size of [3000, 100_000]) {
      const ws = new WebSocket(`ws://127.0.0.1:${listener.addr.port}`);
      const conn = await accept(await listener.accept(), { readLimit: 1000 });
      await new Promise((r) => ws.onopen = r);
      const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
      ws.send(new Uint8Array(size));
      const err = await conn.readMessage().catch((e) => e);
      assertEquals(err.closeCode, 1009);
      assertEquals((await closed).code, 1009, `${size}-byte message`);
    }
  } finally {
    listener.close();
  }
});
