/**
 * `maxConnections` of serve() and createNodeServer() over loopback: one past the
 * limit gets 503 with Retry-After and is closed at once, the listener goes on,
 * accepted connections keep working, and slots free when connections close.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { createNodeServer } from "../../node.ts";
import { dial, HandshakeError, OpCode, serve } from "../../mod.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { busyAnswer } from "../../src/servers/connection_limit.ts";
import { readToEnd } from "../_pair.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import { dec } from "../_wire.ts";

const echo = async (conn: WebSocketConn) => {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
};

async function roundTrip(conn: WebSocketConn, text: string): Promise<string> {
  await conn.writeMessage(OpCode.Text, text);
  return dec((await conn.readMessage()).data);
}

const UPGRADE = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/** Sends an upgrade request by hand and reads the answer until the server closes. */
async function rawUpgrade(
  port: number,
): Promise<{ answer: string; ended: boolean; ms: number }> {
  const started = performance.now();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await tcp.write(new TextEncoder().encode(UPGRADE));
    const { bytes, ended } = await readToEnd(tcp, 3_000);
    return { answer: dec(bytes), ended, ms: performance.now() - started };
  } finally {
    tcp.close();
  }
}

/** Dials until it gets through, at most 40 tries 50 ms apart. */
async function dialWhenFree(url: string): Promise<WebSocketConn> {
  for (let i = 0;; i++) {
    try {
      return await dial(url);
    } catch (err) {
      if (!(err instanceof HandshakeError) || err.status !== 503 || i >= 40) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function expectBusy(r: { answer: string; ended: boolean; ms: number }): void {
  assert(r.answer.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), r.answer);
  assertStringIncludes(r.answer.toLowerCase(), "\r\nretry-after: 7\r\n");
  assert(r.ended, "the server closed the socket");
  assert(r.ms < 1_500, `closed after ${r.ms} ms`);
}

Deno.test("serve() maxConnections: 503 with Retry-After past it, accepted ones go on, slots free", async () => {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    maxConnections: 2,
    retryAfter: 7,
  }, echo);
  const url = `ws://127.0.0.1:${server.addr.port}`;
  try {
    const a = await dial(url);
    const b = await dial(url);
    for (let i = 0; i < 5; i++) expectBusy(await rawUpgrade(server.addr.port));
    const refused = await dial(url).catch((e) => e);
    assertInstanceOf(refused, HandshakeError);
    assertEquals(refused.status, 503);
    assertEquals(await roundTrip(a, "still"), "still");
    assertEquals(await roundTrip(b, "working"), "working");
    assertEquals(server.connections, 2);
    await a.close();
    const c = await dialWhenFree(url);
    assertEquals(await roundTrip(c, "freed"), "freed");
    await Promise.all([b.close(), c.close()]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() maxConnections: a handshake in progress holds a slot; a silent turned-away client does not stall the listener", async () => {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    maxConnections: 1,
    handshakeTimeout: 400,
  }, echo);
  const { port } = server.addr;
  try {
    // Connects and sends nothing: it holds the one slot until its handshake times out.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    // Past the limit and silent too: answered without waiting for its request.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    const started = performance.now();
    const refused = await dial(`ws://127.0.0.1:${port}`).catch((e) => e);
    assertEquals((refused as HandshakeError).status, 503);
    assert(performance.now() - started < 1_000, "answered at once");
    const idleAnswer = await readToEnd(idle, 3_000);
    assert(dec(idleAnswer.bytes).startsWith("HTTP/1.1 503"));
    assert(idleAnswer.ended);
    idle.close();
    // Once the silent handshake has timed out (408), the slot is free again.
    assertStringIncludes(dec((await readToEnd(silent, 3_000)).bytes), "408");
    silent.close();
    const conn = await dialWhenFree(`ws://127.0.0.1:${port}`);
    assertEquals(await roundTrip(conn, "in"), "in");
    await conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() maxConnections over TLS: the 503 goes through TLS", async () => {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: SERVER_CERT,
    key: SERVER_KEY,
    maxConnections: 1,
  }, echo);
  const url = `wss://localhost:${server.addr.port}/`;
  try {
    const a = await dial(url, { caCerts: [CA_CERT] });
    const refused = await dial(url, { caCerts: [CA_CERT] }).catch((e) => e);
    assertInstanceOf(refused, HandshakeError);
    assertEquals(refused.status, 503);
    assertEquals(await roundTrip(a, "secure"), "secure");
    await a.close();
    const b = await (async () => {
      for (let i = 0;; i++) {
        const r = await dial(url, { caCerts: [CA_CERT] }).catch((e) => e);
        if (!(r instanceof HandshakeError) || i >= 40) return r;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    assertEquals(await roundTrip(b, "freed"), "freed");
    await b.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("createNodeServer() maxConnections: 503 past it, HTTP still served, slots free", async () => {
  const server = createNodeServer({
    fetch: () => new Response("page"),
    websocket: echo,
    maxConnections: 1,
    retryAfter: 7,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const url = `ws://127.0.0.1:${port}`;
  const clients: WebSocketConn[] = [];
  try {
    const a = await dial(url);
    clients.push(a);
    for (let i = 0; i < 3; i++) expectBusy(await rawUpgrade(port));
    const refused = await dial(url).catch((e) => e);
    assertEquals((refused as HandshakeError).status, 503);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(await page.text(), "page");
    assertEquals(await roundTrip(a, "node"), "node");
    await a.close();
    const b = await dialWhenFree(url);
    clients.push(b);
    assertEquals(await roundTrip(b, "freed"), "freed");
    await b.close();
  } finally {
    // node:http waits for every socket, so a failed step must not leave one open.
    for (const c of clients) c.abort();
    await Promise.all(clients.map((c) => c.closed));
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("maxConnections and retryAfter are checked", () => {
  assertEquals(busyAnswer(undefined), null);
  for (const bad of [0, -1, 1.5, NaN]) {
    assertThrows(() => busyAnswer(bad), RangeError, "maxConnections");
    assertThrows(
      () => serve({ port: 0, onListen() {}, maxConnections: bad }, echo),
      RangeError,
    );
    assertThrows(
      () =>
        createNodeServer({
          fetch: () => new Response(),
          websocket: echo,
          maxConnections: bad,
        }),
      RangeError,
    );
  }
  assertThrows(() => busyAnswer(1, -1), RangeError, "retryAfter");
});
