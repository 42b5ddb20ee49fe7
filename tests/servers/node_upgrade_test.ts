import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import type { AcceptOptions } from "../../src/handshake/accept.ts";
import { CloseCode } from "../../src/codec/close_code.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { dial } from "../../src/handshake/dial.ts";
import { CloseError, HandshakeError } from "../../src/codec/errors.ts";
import { Rejection } from "../../src/handshake/rejection.ts";
import {
  acceptNode,
  createNodeServer,
  type NodeServerOptions,
} from "../../src/servers/node_upgrade.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { frame, parseFrames, readToEnd } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

const UPGRADE =
  "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function echo(conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
}

interface Upgraded {
  conn?: WebSocketConn;
  error?: unknown;
  head: number;
}

/** A node:http server whose upgrades go through acceptNode and then `then`. */
async function nodeServer(
  options: AcceptOptions = {},
  then: (conn: WebSocketConn) => Promise<void> = echo,
) {
  const upgrades: Upgraded[] = [];
  const tasks: Promise<void>[] = [];
  const server = createServer((_req, res) => res.end("plain"));
  server.on(
    "upgrade",
    (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
      const seen: Upgraded = { head: head.length };
      upgrades.push(seen);
      tasks.push((async () => {
        try {
          seen.conn = await acceptNode(req, socket, head, options);
        } catch (err) {
          seen.error = err;
          return;
        }
        await then(seen.conn).catch(() => {});
      })());
    },
  );
  const port = await listen(server);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    upgrades,
    /** Waits until every upgrade so far has been handled. */
    settled: () => Promise.all(tasks),
    async close() {
      await Promise.all(tasks);
      await stop(server);
    },
  };
}

async function roundTrip(conn: WebSocketConn, text: string): Promise<string> {
  await conn.writeMessage(OpCode.Text, text);
  return dec((await conn.readMessage()).data);
}

Deno.test("acceptNode() upgrades a node:http socket to a full Conn", async () => {
  const s = await nodeServer({ protocols: ["chat"], readLimit: 4 << 20 });
  try {
    const conn = await dial(`${s.url}/ws`, {
      protocols: ["chat"],
      readLimit: 4 << 20,
    });
    assertEquals(conn.protocol, "chat");
    assertEquals(await roundTrip(conn, "over node"), "over node");
    // Big enough to pause and resume the node socket several times.
    const big = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);
    await conn.writeMessage(OpCode.Binary, big);
    assertEquals((await conn.readMessage(new Uint8Array(4 << 20))).data, big);
    await conn.streamMessage(
      OpCode.Text,
      ReadableStream.from(["frag", "mented"].map((s) => enc(s))),
      4,
    );
    assertEquals(dec((await conn.readMessage()).data), "fragmented");
    await conn.close(CloseCode.NormalClosure, "done");
    assertEquals(await s.upgrades[0].conn!.closed, {
      code: CloseCode.NormalClosure,
      reason: "done",
    });
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode() keeps the upgrade event's head bytes as the first frames", async () => {
  const s = await nodeServer();
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    const frames = [frame(0x81, "first"), frame(0x82, new Uint8Array([1, 2]))];
    await tcp.write(
      new Uint8Array([...enc(UPGRADE), ...frames[0], ...frames[1]]),
    );
    const { bytes } = await readToEnd(tcp, 500);
    const head = dec(bytes).split("\r\n\r\n")[0];
    assertStringIncludes(head, "HTTP/1.1 101 Switching Protocols");
    assertStringIncludes(
      head,
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    );
    const echoed = parseFrames(bytes.subarray(head.length + 4));
    assertEquals(echoed.map((f) => [f.opcode, f.masked, [...f.payload]]), [
      [OpCode.Text, false, [...enc("first")]],
      [OpCode.Binary, false, [1, 2]],
    ]);
    assert(s.upgrades[0].head > 0, "the frames arrived as the event's head");
    tcp.close();
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode() runs the accept hooks and refuses with their HTTP status", async () => {
  const s = await nodeServer({
    onRequest: (req) =>
      req.headers.get("authorization") === "Bearer ok"
        ? { "X-Welcome": "yes" }
        : new Rejection(401, {
          body: "Sign in first",
          headers: { "WWW-Authenticate": "Bearer" },
        }),
  });
  try {
    const refused = await assertRejects(() => dial(s.url));
    assertInstanceOf(refused, HandshakeError);
    assertEquals(refused.status, 401);
    await s.settled();
    assertInstanceOf(s.upgrades[0].error, HandshakeError);

    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await tcp.write(enc(UPGRADE));
    const answer = dec((await readToEnd(tcp, 2_000)).bytes);
    assertStringIncludes(answer, "HTTP/1.1 401 Unauthorized");
    assertStringIncludes(answer.toLowerCase(), "www-authenticate: bearer");
    assert(answer.endsWith("Sign in first"));
    tcp.close();

    const conn = await dial(s.url, { headers: { authorization: "Bearer ok" } });
    assertEquals(await roundTrip(conn, "in"), "in");
    await conn.close();
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode() refuses an invalid upgrade with 400", async () => {
  const s = await nodeServer();
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await tcp.write(
      enc(UPGRADE.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")),
    );
    const answer = dec((await readToEnd(tcp, 2_000)).bytes);
    assertStringIncludes(answer, "HTTP/1.1 400 Bad Request");
    tcp.close();
    await s.settled();
    assertEquals((s.upgrades[0].error as HandshakeError).status, 400);
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode() works over the transport's streams too (read: byob)", async () => {
  const s = await nodeServer({ read: "byob" });
  try {
    const conn = await dial(s.url);
    assertEquals(await roundTrip(conn, "streams"), "streams");
    const big = new Uint8Array(200_000).fill(9);
    await conn.writeMessage(OpCode.Binary, big);
    assertEquals((await conn.readMessage()).data, big);
    await conn.close();
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode(): a server-side close and abort reach the client", async () => {
  const s = await nodeServer({}, async (conn) => {
    const msg = await conn.readMessage();
    if (dec(msg.data) === "close") await conn.close(4001, "asked");
    else conn.abort();
  });
  try {
    const a = await dial(s.url);
    await a.writeMessage(OpCode.Text, "close");
    const closed = await assertRejects(() => a.readMessage());
    assertInstanceOf(closed, CloseError);
    assertEquals([closed.code, closed.reason], [4001, "asked"]);
    const b = await dial(s.url);
    await b.writeMessage(OpCode.Text, "abort");
    await assertRejects(() => b.readMessage());
    assertEquals((await b.closed).code, CloseCode.AbnormalClosure);
  } finally {
    await s.close();
  }
});

/** A createNodeServer server on a free port. */
async function appServer(options: Partial<NodeServerOptions>) {
  const server = createNodeServer({
    fetch: () => new Response("default"),
    websocket: echo,
    ...options,
  });
  const port = await listen(server);
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    close: () => stop(server),
  };
}

Deno.test("createNodeServer(): the fetch handler answers HTTP requests", async () => {
  const seen: { url: string; addr: string }[] = [];
  const s = await appServer({
    fetch: async (req, info) => {
      seen.push({ url: req.url, addr: info.remoteAddr.hostname });
      if (req.method === "POST") {
        return new Response(`got ${(await req.text()).length} bytes`, {
          status: 201,
        });
      }
      const headers = new Headers({ "content-type": "text/plain" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response("hello from fetch", { status: 203, headers });
    },
  });
  try {
    const res = await fetch(`${s.http}/page?q=1`);
    assertEquals(res.status, 203);
    assertEquals(res.headers.get("content-type"), "text/plain");
    assertEquals(res.headers.getSetCookie(), ["a=1", "b=2"]);
    assertEquals(await res.text(), "hello from fetch");
    const post = await fetch(`${s.http}/upload`, {
      method: "POST",
      body: ReadableStream.from([new Uint8Array(100_000), new Uint8Array(5)]),
    });
    assertEquals([post.status, await post.text()], [201, "got 100005 bytes"]);
    const head = await fetch(`${s.http}/`, { method: "HEAD" });
    assertEquals([head.status, await head.text()], [203, ""]);
    assertEquals(seen[0].url, `http://127.0.0.1:${s.port}/page?q=1`);
    assertEquals(seen[0].addr, "127.0.0.1");
  } finally {
    await s.close();
  }
});

Deno.test("createNodeServer(): streamed response bodies arrive whole", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(3);
  const s = await appServer({
    fetch: () => new Response(ReadableStream.from(Array(32).fill(chunk))),
  });
  try {
    const body = new Uint8Array(await (await fetch(s.http)).arrayBuffer());
    assertEquals(body.length, 32 * chunk.length);
    assert(body.every((b) => b === 3));
  } finally {
    await s.close();
  }
});

Deno.test("createNodeServer(): a failing fetch handler gives 500 and reaches onError", async () => {
  const errors: unknown[] = [];
  const s = await appServer({
    fetch: () => {
      throw new Error("fetch bug");
    },
    onError: (err) => errors.push(err),
  });
  try {
    const res = await fetch(s.http);
    assertEquals([res.status, await res.text()], [
      500,
      "Internal Server Error",
    ]);
    assertEquals((errors[0] as Error).message, "fetch bug");
  } finally {
    await s.close();
  }
});

Deno.test("createNodeServer(): request.signal aborts when the client goes away", async () => {
  let aborted!: () => void;
  const gone = new Promise<void>((resolve) => aborted = resolve);
  const s = await appServer({
    fetch: (req) => {
      req.signal.addEventListener("abort", () => aborted());
      // Never-ending body: only the client's departure ends it.
      return new Response(
        new ReadableStream({
          pull: (c) =>
            new Promise((resolve) =>
              setTimeout(() => resolve(c.enqueue(new Uint8Array(16))), 5)
            ),
        }),
      );
    },
  });
  try {
    const stopFetch = new AbortController();
    const res = await fetch(s.http, { signal: stopFetch.signal });
    const reader = res.body!.getReader();
    await reader.read();
    stopFetch.abort();
    await reader.cancel().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      gone.then(() => "aborted"),
      new Promise((resolve) =>
        timer = setTimeout(() => resolve("timeout"), 5_000)
      ),
    ]);
    clearTimeout(timer);
    assertEquals(result, "aborted");
  } finally {
    await s.close();
  }
});

Deno.test("createNodeServer(): upgrades get our Conn and the request, on the same port", async () => {
  const paths: string[] = [];
  const s = await appServer({
    fetch: () => new Response("page"),
    websocket: async (conn, req) => {
      paths.push(new URL(req.url).pathname);
      await echo(conn);
    },
    protocols: ["v1"],
  });
  try {
    assertEquals(await (await fetch(s.http)).text(), "page");
    const conn = await dial(`${s.ws}/live`, { protocols: ["v1"] });
    assertEquals(conn.protocol, "v1");
    assertEquals(await roundTrip(conn, "same port"), "same port");
    await conn.close();
    assertEquals(paths, ["/live"]);

    // Deno's own client, as browsers would connect.
    const ws = new WebSocket(`${s.ws}/browser`);
    const reply = new Promise<string>((resolve) =>
      ws.onmessage = (e) => resolve(e.data as string)
    );
    ws.onopen = () => ws.send("built-in");
    assertEquals(await reply, "built-in");
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.close(4000, "bye");
    assertEquals((await closed).code, 4000);
  } finally {
    await s.close();
  }
});

Deno.test("createNodeServer(): a throwing WebSocket handler closes its client with 1011", async () => {
  const errors: unknown[] = [];
  const s = await appServer({
    websocket: () => {
      throw new Error("ws bug");
    },
    onError: (err) => errors.push(err),
  });
  try {
    const conn = await dial(s.ws);
    const err = await assertRejects(() => conn.readMessage());
    assertInstanceOf(err, CloseError);
    assertEquals(err.code, CloseCode.InternalServerError);
    assertEquals((errors[0] as Error).message, "ws bug");
  } finally {
    await s.close();
  }
});

Deno.test("acceptNode() runs onHeader over node's parsed fields and adds onBeforeUpgrade's to the 101", async () => {
  const seen: string[] = [];
  const s = await nodeServer({
    onHeader(name, value) {
      seen.push(name);
      if (name === "x-block") return new Rejection(451, { body: value });
    },
    onBeforeUpgrade: ({ protocol }) => ({ "X-Protocol": protocol || "none" }),
    protocols: ["chat"],
  });
  try {
    const err = await assertRejects(
      () => dial(s.url, { headers: { "X-Block": "legal" } }),
      HandshakeError,
    );
    assertEquals([err.status, dec(err.body)], [451, "legal"]);
    let chosen: string | null = null;
    const conn = await dial(s.url, {
      protocols: ["chat"],
      onResponse: (_, headers) => void (chosen = headers.get("x-protocol")),
    });
    assertEquals(chosen, "chat");
    assert(seen.includes("sec-websocket-key") && seen.includes("host"));
    assertEquals(await roundTrip(conn, "hi"), "hi");
    await conn.close();
  } finally {
    await s.close();
  }
});
