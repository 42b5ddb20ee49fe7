import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import type { HandshakeRequest } from "../../src/handshake/accept.ts";
import { CloseCode } from "../../src/codec/close_code.ts";
import { dial } from "../../src/handshake/dial.ts";
import { CloseError, HandshakeError } from "../../src/codec/errors.ts";
import { Rejection } from "../../src/handshake/rejection.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import {
  serve,
  type ServeOptions,
  type WebSocketHandler,
} from "../../src/servers/serve.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { frame, readToEnd } from "../_pair.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import { dec, enc } from "../_wire.ts";

const echo: WebSocketHandler = async (conn) => {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
};

function start(handler: WebSocketHandler, options: ServeOptions = {}) {
  const server = serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...options },
    handler,
  );
  return { server, url: `ws://127.0.0.1:${server.addr.port}` };
}

async function roundTrip(conn: WebSocketConn, text: string): Promise<string> {
  await conn.writeMessage(OpCode.Text, text);
  return dec((await conn.readMessage()).data);
}

/** Waits for the peer's close and returns its code and reason. */
async function closeOf(conn: WebSocketConn): Promise<CloseError> {
  const err = await assertRejects(() => conn.readMessage());
  assertInstanceOf(err, CloseError);
  return err;
}

Deno.test("serve() echoes over TCP and hands the handler the request", async () => {
  const seen: HandshakeRequest[] = [];
  const { server, url } = start(async (conn, request) => {
    seen.push(request);
    await echo(conn, request);
  }, { protocols: ["chat"] });
  try {
    const conn = await dial(`${url}/room/1?x=2`, { protocols: ["chat"] });
    assertEquals(conn.protocol, "chat");
    assertEquals(await roundTrip(conn, "hello"), "hello");
    const bin = new Uint8Array(70_000).map((_, i) => i & 0xff);
    await conn.writeMessage(OpCode.Binary, bin);
    assertEquals((await conn.readMessage()).data, bin);
    assertEquals(server.connections, 1);
    await conn.close();
    assertEquals(seen.length, 1);
    assertEquals(seen[0].target, "/room/1?x=2");
    assertEquals(seen[0].protocols, ["chat"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() speaks TLS with cert and key", async () => {
  const { server } = start(echo, { cert: SERVER_CERT, key: SERVER_KEY });
  try {
    const conn = await dial(`wss://localhost:${server.addr.port}/`, {
      caCerts: [CA_CERT],
    });
    assertEquals(await roundTrip(conn, "secure"), "secure");
    await conn.close();
    // A plain-text client on the TLS port fails alone.
    const plain = await dial(`ws://127.0.0.1:${server.addr.port}/`, {
      timeout: 2_000,
    }).catch((err) => err);
    assertInstanceOf(plain, Error);
    const again = await dial(`wss://localhost:${server.addr.port}/`, {
      caCerts: [CA_CERT],
    });
    assertEquals(await roundTrip(again, "still there"), "still there");
    await again.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() refuses cert without key", () => {
  let error: unknown;
  try {
    serve({ port: 0, cert: SERVER_CERT, onListen() {} }, echo);
  } catch (err) {
    error = err;
  }
  assertInstanceOf(error, TypeError);
});

Deno.test("serve() answers a plain HTTP request with 426 and a short body", async () => {
  const { server } = start(echo);
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assertEquals(res.status, 426);
    assertEquals(res.headers.get("upgrade"), "websocket");
    assertEquals(res.headers.get("sec-websocket-version"), "13");
    assertEquals(await res.text(), "Upgrade header must be websocket");
    const post = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      method: "POST",
      body: "x",
    });
    assertEquals(post.status, 405);
    await post.body?.cancel();
    assertEquals(server.connections, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() runs the accept hooks: a refusal reaches the client", async () => {
  const { server, url } = start(echo, {
    onRequest: (req) =>
      req.target === "/private"
        ? new Rejection(403, { body: "No" })
        : undefined,
  });
  try {
    const err = await assertRejects(() => dial(`${url}/private`));
    assertInstanceOf(err, HandshakeError);
    assertEquals(err.status, 403);
    const conn = await dial(`${url}/public`);
    assertEquals(await roundTrip(conn, "ok"), "ok");
    await conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() keeps serving others while one connection misbehaves or its handler throws", async () => {
  const errors: unknown[] = [];
  const { server, url } = start(async (conn, request) => {
    if (request.target === "/boom") throw new Error("handler bug");
    await echo(conn, request);
  }, { onError: (err) => errors.push(err) });
  try {
    const good = await dial(url);
    assertEquals(await roundTrip(good, "before"), "before");

    // A handler that throws: its client is closed with 1011, nobody else is.
    const boom = await dial(`${url}/boom`);
    assertEquals((await closeOf(boom)).code, CloseCode.InternalServerError);

    // A peer that breaks the protocol (an unmasked frame) is failed with 1002.
    const raw = await dial(url);
    await raw.writeFrame(true, 0x70, OpCode.Text, enc("bad rsv"));
    const failed = await raw.readMessage().catch((err) => err);
    assertInstanceOf(failed, CloseError);
    assertEquals(failed.code, CloseCode.ProtocolError);

    // Garbage instead of a handshake, then a hang-up mid-request.
    const junk = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await junk.write(enc("\x16\x03\x01garbage\r\n\r\n"));
    const answer = await readToEnd(junk, 2_000);
    assertStringIncludes(dec(answer.bytes), "HTTP/1.1 400");
    junk.close();
    const quitter = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await quitter.write(enc("GET / HTTP/1.1\r\nHost: x\r\n"));
    quitter.close();

    assertEquals(await roundTrip(good, "after"), "after");
    await good.close();
    assert(
      errors.some((e) => e instanceof Error && e.message === "handler bug"),
    );
    assert(errors.some((e) => e instanceof HandshakeError && e.status === 400));
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() closes with 1000 when the handler returns", async () => {
  const { server, url } = start(async (conn) => {
    await conn.writeMessage(OpCode.Text, "bye");
  });
  try {
    const conn = await dial(url);
    assertEquals(dec((await conn.readMessage()).data), "bye");
    assertEquals((await closeOf(conn)).code, CloseCode.NormalClosure);
  } finally {
    await server.shutdown();
  }
});

Deno.test("shutdown() closes open connections with 1001, stops listening and waits for handlers", async () => {
  let handlersDone = 0;
  const { server, url } = start(async (conn, request) => {
    await echo(conn, request);
    handlersDone++;
  });
  const clients = await Promise.all([dial(url), dial(url), dial(url)]);
  for (const c of clients) assertEquals(await roundTrip(c, "x"), "x");
  assertEquals(server.connections, 3);
  const reads = clients.map((c) => closeOf(c));
  await server.shutdown();
  for (const err of await Promise.all(reads)) {
    assertEquals(err.code, CloseCode.GoingAway);
    assertEquals(err.reason, "Server shutting down");
  }
  assertEquals(handlersDone, 3);
  assertEquals(server.connections, 0);
  await server.finished;
  await assertRejects(() =>
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port })
  );
});

Deno.test("serve() shuts down when its signal aborts, also mid-handshake", async () => {
  const stop = new AbortController();
  const { server, url } = start(echo, { signal: stop.signal });
  const conn = await dial(url);
  // A client stuck half-way through its request.
  const slow = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await slow.write(enc("GET / HTTP/1.1\r\n"));
  const closed = closeOf(conn);
  stop.abort();
  await server.finished;
  assertEquals((await closed).code, CloseCode.GoingAway);
  assert((await readToEnd(slow, 2_000)).ended);
  slow.close();
});

Deno.test("serve() with an already aborted signal stops at once", async () => {
  const { server } = start(echo, { signal: AbortSignal.abort() });
  await server.finished;
  await assertRejects(() =>
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port })
  );
});

Deno.test("serve() talks to Deno's built-in WebSocket, frames sent with the request included", async () => {
  const { server, url } = start(echo);
  try {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const got: string[] = [];
    const done = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.onopen = () => ws.send("from the browser API");
    ws.onmessage = (e) => {
      got.push(e.data as string);
      ws.close(CloseCode.NormalClosure, "thanks");
    };
    const ev = await done;
    assertEquals(got, ["from the browser API"]);
    assertEquals(ev.code, CloseCode.NormalClosure);

    // A request and a frame in one write: the frame is not lost.
    const tcp = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    const req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n";
    const first = frame(0x81, "pipelined");
    const bytes = new Uint8Array([...enc(req), ...first]);
    await tcp.write(bytes);
    const answer = await readToEnd(tcp, 500);
    const text = dec(answer.bytes);
    assertStringIncludes(text, "101 Switching Protocols");
    assertEquals(
      answer.bytes.slice(-11),
      new Uint8Array([0x81, 9, ...enc("pipelined")]),
    );
    tcp.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() passes onHeader and onBeforeUpgrade to every handshake", async () => {
  const { server, url } = start(echo, {
    onHeader: (name, value) =>
      name === "x-tenant" && value !== "acme"
        ? new Rejection(403, { body: "Unknown tenant" })
        : undefined,
    onBeforeUpgrade: () => ({ "X-Node": "n1" }),
  });
  try {
    const err = await assertRejects(
      () => dial(url, { headers: { "X-Tenant": "other" } }),
      HandshakeError,
    );
    assertEquals([err.status, new TextDecoder().decode(err.body)], [
      403,
      "Unknown tenant",
    ]);
    let node: string | null = null;
    const conn = await dial(url, {
      headers: { "X-Tenant": "acme" },
      onResponse: (_, headers) => void (node = headers.get("x-node")),
    });
    assertEquals(node, "n1");
    assertEquals(await roundTrip(conn, "ok"), "ok");
    await conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve() handles handlers that are not async: one that returns at once closes with 1000, one that throws with 1011", async () => {
  const errors: unknown[] = [];
  const { server, url } = start((_conn, request) => {
    if (request.target === "/throw") throw new Error("sync bug");
  }, { onError: (err) => errors.push(err) });
  try {
    const quick = await dial(url);
    assertEquals((await closeOf(quick)).code, CloseCode.NormalClosure);
    const thrower = await dial(`${url}/throw`);
    assertEquals((await closeOf(thrower)).code, CloseCode.InternalServerError);
    assertEquals(errors.map((e) => (e as Error).message), ["sync bug"]);
    assertEquals(server.connections, 0);
  } finally {
    await server.shutdown();
  }
});
