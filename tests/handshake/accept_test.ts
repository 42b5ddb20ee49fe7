import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  accept,
  type AcceptOptions,
  allowOrigins,
  type HandshakeRequest,
} from "../../src/handshake/accept.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { dial } from "../../src/handshake/dial.ts";
import {
  CloseError,
  HandshakeError,
  WebSocketError,
} from "../../src/codec/errors.ts";
import { acceptKey } from "../../src/handshake/key.ts";
import { Rejection } from "../../src/handshake/rejection.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { frame, tcpPair } from "../_pair.ts";
import { concat } from "../_wire.ts";
import { HELLO_DEFLATED, pattern, readsEof } from "./_fixtures.ts";
import { CA_CERT, listenTls } from "../_tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** An upgrade request, with fields replaced (or removed with null). */
function upgradeRequest(
  fields: Record<string, string | null> = {},
  line = "GET /chat HTTP/1.1",
): string {
  const all: Record<string, string | null> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...fields,
  };
  let text = `${line}\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  return text + "\r\n";
}

interface RawResponse {
  status: number;
  head: string;
  body: string;
  /** Bytes after the head and body. */
  rest: Uint8Array;
}

/** Reads one HTTP response (head plus Content-Length body) from a raw socket. */
async function readRaw(conn: Deno.Conn): Promise<RawResponse> {
  const buf = new Uint8Array(64 * 1024);
  let filled = 0;
  let headEnd = -1;
  let bodyLength = 0;
  for (let i = 0; i < 10_000; i++) {
    if (headEnd < 0) {
      const text = dec.decode(buf.subarray(0, filled));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        headEnd = end + 4;
        const m = /content-length: (\d+)/i.exec(text.slice(0, end));
        bodyLength = m ? Number(m[1]) : 0;
      }
    }
    if (headEnd >= 0 && filled >= headEnd + bodyLength) break;
    const n = await conn.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  const head = dec.decode(buf.subarray(0, Math.max(headEnd, 0)));
  return {
    status: Number(head.slice(9, 12)),
    head,
    body: dec.decode(buf.subarray(headEnd, headEnd + bodyLength)),
    rest: buf.slice(headEnd + bodyLength, filled),
  };
}

/**
 * Sends `request` from a raw client and runs `accept` on the server end. Like a
 * browser, the client reads a refusal to the end and then closes.
 */
async function handshake(
  request: string | Uint8Array,
  options: AcceptOptions = {},
): Promise<
  {
    client: Deno.Conn;
    conn?: WebSocketConn;
    error?: unknown;
    res: RawResponse;
    eof: boolean;
  }
> {
  const tcp = await tcpPair();
  const bytes = typeof request === "string" ? enc.encode(request) : request;
  const client = async () => {
    await tcp.client.write(bytes).catch(() => 0);
    const res = await readRaw(tcp.client);
    if (res.status === 101) return { res, eof: false };
    const eof = await readsEof(tcp.client);
    tcp.client.close();
    return { res, eof };
  };
  const [accepted, { res, eof }] = await Promise.all([
    accept(tcp.server, options).then(
      (conn) => ({ conn, error: undefined }),
      (error) => ({ conn: undefined, error }),
    ),
    client(),
  ]);
  return { client: tcp.client, ...accepted, res, eof };
}

/** Expects a refusal with `status`, seen by both ends. */
async function assertRefused(
  request: string | Uint8Array,
  status: number,
  options: AcceptOptions = {},
): Promise<{ error: HandshakeError; res: RawResponse }> {
  const { conn, error, res, eof } = await handshake(request, options);
  assertEquals(conn, undefined, "accept() should have failed");
  assertInstanceOf(error, HandshakeError);
  assertEquals((error as HandshakeError).status, status);
  assertEquals(res.status, status, res.head);
  assert(/\r\nConnection: (.*, )?close\r\n/.test(res.head), res.head);
  assert(eof, "socket should be closed");
  return { error: error as HandshakeError, res };
}

Deno.test("accept() answers 101 with the accept value and returns a server Conn", async () => {
  const { client, conn, res } = await handshake(upgradeRequest());
  try {
    assertEquals(res.status, 101);
    assertEquals(
      res.head,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
    if (conn === undefined) throw new Error("accept() failed");
    assertEquals([conn.role, conn.protocol, conn.extensions], [
      "server",
      "",
      "",
    ]);
    await client.write(frame(0x81, "ping?"));
    const msg = await conn.readMessage();
    assertEquals(dec.decode(msg.data), "ping?");
    await conn.writeMessage(OpCode.Text, "pong!");
    const reply = new Uint8Array(7);
    let n = 0;
    for (let i = 0; i < 7 && n < 7; i++) {
      n += (await client.read(reply.subarray(n))) ?? 0;
    }
    assertEquals(reply, frame(0x81, "pong!", null));
    conn.abort();
  } finally {
    client.close();
  }
});

Deno.test("accept() keeps a frame sent in the same packet as the request", async () => {
  const first = frame(0x82, new Uint8Array([1, 2, 3]));
  const second = frame(0x81, "two");
  const request = enc.encode(upgradeRequest());
  const packet = new Uint8Array([...request, ...first, ...second]);
  const { client, conn } = await handshake(packet);
  try {
    if (conn === undefined) throw new Error("accept() failed");
    assertEquals((await conn.readMessage()).data, new Uint8Array([1, 2, 3]));
    assertEquals(dec.decode((await conn.readMessage()).data), "two");
    conn.abort();
  } finally {
    client.close();
  }
});

Deno.test("accept() refuses each invalid request with its status", async () => {
  const cases: [string, string, number][] = [
    ["POST", upgradeRequest({}, "POST /chat HTTP/1.1"), 405],
    ["HTTP/1.0", upgradeRequest({}, "GET /chat HTTP/1.0"), 400],
    ["no Host", upgradeRequest({ Host: null }), 400],
    [
      "plain HTTP request",
      upgradeRequest({ Upgrade: null, Connection: null }),
      426,
    ],
    ["Connection: close", upgradeRequest({ Connection: "close" }), 426],
    ["version 8", upgradeRequest({ "Sec-WebSocket-Version": "8" }), 426],
    ["no key", upgradeRequest({ "Sec-WebSocket-Key": null }), 400],
    ["bad key", upgradeRequest({ "Sec-WebSocket-Key": "abc" }), 400],
    ["malformed field", upgradeRequest({ "Bad Name": "x" }), 400],
    ["bad request line", "GET\r\nHost: a\r\n\r\n", 400],
    ["body", upgradeRequest({ "Content-Length": "3" }) + "abc", 400],
  ];
  for (const [name, request, status] of cases) {
    const { error } = await assertRefused(request, status);
    assert(error.message.length > 0, name);
  }
});

Deno.test("accept() refuses a bare LF line ending with 400 at once, not after the handshake timeout", async () => {
  const lf = upgradeRequest().replaceAll("\r\n", "\n");
  // Only the final empty line ends in a bare LF.
  const lastLine = upgradeRequest().slice(0, -2) + "\n";
  for (const request of [lf, lastLine]) {
    const started = performance.now();
    const { error } = await assertRefused(request, 400, {
      handshakeTimeout: 5_000,
    });
    assert(error.message.includes("LF"), error.message);
    // Answered as soon as the bytes arrived: far from the 5 s timeout (408).
    assert(performance.now() - started < 2_500, "answered at once");
  }
  // A bare LF after the head belongs to the frames, not to the head.
  const { conn } = await handshake(
    concat(
      enc.encode(upgradeRequest()),
      frame(0x82, new Uint8Array([0x0a]), [0, 0, 0, 0]),
    ),
  );
  if (conn === undefined) throw new Error("a 0x0a byte after the head is fine");
  assertEquals([...(await conn.readMessage()).data], [0x0a]);
  conn.abort();
});

Deno.test("accept() tells a client of another version to use 13", async () => {
  const { res } = await assertRefused(
    upgradeRequest({ "Sec-WebSocket-Version": "7" }),
    426,
  );
  assertStringIncludes(res.head, "HTTP/1.1 426 Upgrade Required\r\n");
  assertStringIncludes(res.head, "sec-websocket-version: 13\r\n");
  assertStringIncludes(res.head, "upgrade: websocket\r\n");
});

Deno.test("accept() refuses a head over 8 KiB with 431 and the client reads it", async () => {
  const big = upgradeRequest({ Cookie: "c".repeat(9000) });
  const { error } = await assertRefused(big, 431);
  assertStringIncludes(error.message, "8192");
  await assertRefused(upgradeRequest({ Cookie: "c".repeat(2000) }), 431, {
    maxHeadBytes: 1024,
  });
  const many: Record<string, string> = {};
  for (let i = 0; i < 70; i++) many[`X-${i}`] = "1";
  await assertRefused(upgradeRequest(many), 431);
  await assertRefused(upgradeRequest({ "X-1": "1", "X-2": "2" }), 431, {
    maxHeaders: 6,
  });
});

Deno.test("accept() takes a head longer than its first buffer, sent in pieces", async () => {
  const cookie = "c".repeat(6000);
  const request = enc.encode(upgradeRequest({ Cookie: cookie }));
  const tcp = await tcpPair();
  try {
    const writing = (async () => {
      for (
        const [from, to] of [[0, 900], [900, 1100], [1100, request.length]]
      ) {
        await tcp.client.write(request.subarray(from, to));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await tcp.client.write(frame(0x81, "after"));
    })();
    let cookieSeen = "";
    const conn = await accept(tcp.server, {
      onRequest(req) {
        cookieSeen = req.headers.get("cookie") ?? "";
      },
    });
    await writing;
    assertEquals(cookieSeen, cookie);
    assertEquals((await readRaw(tcp.client)).status, 101);
    assertEquals(dec.decode((await conn.readMessage()).data), "after");
    conn.abort();
  } finally {
    tcp.client.close();
  }
});

Deno.test("accept() refuses a long request line with 414", async () => {
  await assertRefused(
    upgradeRequest({}, `GET /${"a".repeat(5000)} HTTP/1.1`),
    414,
  );
});

Deno.test("accept() drops a slow client with 408 once the handshake timeout passes", async () => {
  const tcp = await tcpPair();
  try {
    await tcp.client.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n"));
    const started = performance.now();
    const err = await assertRejects(
      () => accept(tcp.server, { handshakeTimeout: 150 }),
      HandshakeError,
    );
    const elapsed = performance.now() - started;
    assertEquals(err.status, 408);
    assert(elapsed >= 140 && elapsed < 2_000, `took ${elapsed} ms`);
    const res = await readRaw(tcp.client);
    assertEquals(res.status, 408);
    assert(await readsEof(tcp.client));
  } finally {
    tcp.client.close();
  }
});

Deno.test("accept() drops a client that trickles bytes past the timeout", async () => {
  const tcp = await tcpPair();
  const request = enc.encode(upgradeRequest());
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < request.length) {
      tcp.client.write(request.subarray(sent, sent + 1)).catch(() => {});
      sent++;
    }
  }, 10);
  try {
    const err = await assertRejects(
      () => accept(tcp.server, { handshakeTimeout: 200 }),
      HandshakeError,
    );
    assertEquals(err.status, 408);
    assert(sent < request.length, "the timeout should come first");
  } finally {
    clearInterval(trickle);
    tcp.client.close();
  }
});

Deno.test("accept() stops on its signal, closing the socket, with the signal's reason", async () => {
  const tcp = await tcpPair();
  try {
    const controller = new AbortController();
    const accepting = accept(tcp.server, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("Shutting down")), 20);
    await assertRejects(() => accepting, Error, "Shutting down");
    assert(await readsEof(tcp.client));
    const aborted = await tcpPair();
    await assertRejects(
      () =>
        accept(aborted.server, {
          signal: AbortSignal.abort(new Error("Early")),
        }),
      Error,
      "Early",
    );
    aborted.client.close();
  } finally {
    tcp.client.close();
  }
});

Deno.test("accept() aborted while a hook runs sends nothing and rejects with the reason", async () => {
  const controller = new AbortController();
  const { conn, error, res, eof } = await handshake(upgradeRequest(), {
    signal: controller.signal,
    async onRequest() {
      controller.abort(new Error("Draining"));
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
  });
  assertEquals(conn, undefined);
  assertEquals((error as Error).message, "Draining");
  assertEquals(res.head, ""); // no answer at all
  assert(eof);
});

Deno.test("accept() sends a hook's rejection with its status, fields and body", async () => {
  const seen: HandshakeRequest[] = [];
  const { error, res } = await assertRefused(
    upgradeRequest({
      Authorization: "Bearer bad",
      "Sec-WebSocket-Protocol": "a, b",
    }),
    401,
    {
      onRequest(request) {
        seen.push(request);
        return new Rejection(401, {
          headers: { "WWW-Authenticate": 'Bearer realm="chat"' },
          body: "Bad token",
          message: "Token rejected",
        });
      },
    },
  );
  assertEquals(error.message, "Token rejected");
  assertStringIncludes(res.head, "HTTP/1.1 401 Unauthorized\r\n");
  assertStringIncludes(res.head, 'www-authenticate: Bearer realm="chat"\r\n');
  assertStringIncludes(res.head, "Content-Type: text/plain; charset=utf-8\r\n");
  assertEquals(res.body, "Bad token");
  assertEquals(seen[0].target, "/chat");
  assertEquals(seen[0].protocols, ["a", "b"]);
  assertEquals(seen[0].headers.get("authorization"), "Bearer bad");
});

Deno.test("accept() takes a thrown or asynchronous rejection too", async () => {
  await assertRefused(upgradeRequest(), 503, {
    onRequest() {
      throw new Rejection(503, { headers: { "Retry-After": "1" } });
    },
  });
  const { res } = await assertRefused(upgradeRequest(), 302, {
    async onRequest() {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return new Rejection(302, { headers: { Location: "/login" } });
    },
  });
  assertStringIncludes(res.head, "location: /login\r\n");
});

Deno.test("accept() answers 500 when a hook fails, keeping the cause", async () => {
  const { error, res } = await assertRefused(upgradeRequest(), 500, {
    onRequest() {
      throw new Error("Database down");
    },
  });
  assertEquals(res.body, ""); // nothing internal leaks
  assertInstanceOf(error.cause, Error);
  assertEquals((error.cause as Error).message, "Database down");
});

Deno.test("accept() adds the header fields a hook returns to the 101", async () => {
  const { client, conn, res } = await handshake(upgradeRequest(), {
    onRequest: () => ({ "Set-Cookie": "session=1", "X-Server": "wsx" }),
  });
  try {
    assertEquals(res.status, 101);
    assertStringIncludes(res.head, "set-cookie: session=1\r\n");
    assertStringIncludes(res.head, "x-server: wsx\r\n");
    conn?.abort();
  } finally {
    client.close();
  }
  // A hook may not overwrite the handshake's own fields.
  await assertRefused(upgradeRequest(), 500, {
    onRequest: () => [["Sec-WebSocket-Accept", "forged"]],
  });
});

Deno.test("accept() lets onHost refuse a host", async () => {
  const hosts: string[] = [];
  const onHost = (host: string) => {
    hosts.push(host);
    return host === "good.test"
      ? undefined
      : new Rejection(403, { headers: { "X-Want-Host": "good.test" } });
  };
  const { res } = await assertRefused(
    upgradeRequest({ Host: "evil.test" }),
    403,
    { onHost },
  );
  assertStringIncludes(res.head, "x-want-host: good.test\r\n");
  const ok = await handshake(upgradeRequest({ Host: "good.test" }), { onHost });
  assertEquals(ok.res.status, 101);
  ok.conn?.abort();
  ok.client.close();
  assertEquals(hosts, ["evil.test", "good.test"]);
});

Deno.test("allowOrigins() refuses other origins with 403 and lets others through", async () => {
  const onRequest = allowOrigins([
    "https://Example.com",
    "http://localhost:8000",
  ]);
  await assertRefused(upgradeRequest({ Origin: "https://evil.test" }), 403, {
    onRequest,
  });
  await assertRefused(upgradeRequest({ Origin: "null" }), 403, { onRequest });
  for (const origin of ["https://example.com", "http://localhost:8000", null]) {
    const { client, conn, res } = await handshake(
      upgradeRequest({ Origin: origin }),
      {
        onRequest,
      },
    );
    assertEquals(res.status, 101, String(origin));
    conn?.abort();
    client.close();
  }
  const any = allowOrigins(["*"]);
  const request = (origin: string): HandshakeRequest => ({
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    protocols: [],
    headers: new Headers({ origin }),
  });
  assertEquals(any(request("https://anything.test")), undefined);
});

Deno.test("accept() picks the client's most preferred supported subprotocol", async () => {
  const cases: [string | null, AcceptOptions["protocols"], string][] = [
    ["chat.v1, chat.v2", ["chat.v2", "chat.v1"], "chat.v1"],
    ["chat.v3, chat.v2", ["chat.v1", "chat.v2"], "chat.v2"],
    ["chat.v3", ["chat.v1"], ""],
    [null, ["chat.v1"], ""],
    ["chat.v1", undefined, ""],
    ["a, b, c", (offered) => offered.at(-1), "c"],
    ["a, b", () => undefined, ""],
  ];
  for (const [offer, protocols, chosen] of cases) {
    const { client, conn, res } = await handshake(
      upgradeRequest({ "Sec-WebSocket-Protocol": offer }),
      { protocols },
    );
    assertEquals(res.status, 101);
    assertEquals(conn?.protocol, chosen, `${offer} -> ${chosen}`);
    if (chosen) {
      assertStringIncludes(res.head, `Sec-WebSocket-Protocol: ${chosen}\r\n`);
    } else assert(!res.head.includes("Sec-WebSocket-Protocol"));
    conn?.abort();
    client.close();
  }
  await assertRefused(upgradeRequest({ "Sec-WebSocket-Protocol": "a" }), 500, {
    protocols: () => "b",
  });
});

Deno.test("accept() answers a deflate offer through the seam and allows RSV1", async () => {
  const { client, conn, res } = await handshake(
    upgradeRequest({
      "Sec-WebSocket-Extensions": "x-other, permessage-deflate; a=1, " +
        "permessage-deflate; client_no_context_takeover",
    }),
    { deflate: true },
  );
  try {
    assertStringIncludes(
      res.head,
      "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n",
    );
    if (conn === undefined) throw new Error("accept() failed");
    assertEquals(
      conn.extensions,
      "permessage-deflate; client_no_context_takeover",
    );
    await client.write(frame(0x81 | 0x40, HELLO_DEFLATED));
    assertEquals(dec.decode((await conn.readMessage()).data), "Hello");
    conn.abort();
  } finally {
    client.close();
  }

  // Declined, or not offered: no header, and RSV1 stays a protocol error.
  for (const offer of ["x-other", null]) {
    const plain = await handshake(
      upgradeRequest({ "Sec-WebSocket-Extensions": offer }),
      { deflate: true },
    );
    assert(!plain.res.head.includes("Extensions"));
    assertEquals(plain.conn?.extensions, "");
    await plain.client.write(frame(0x81 | 0x40, "raw"));
    const err = await assertRejects(
      () => plain.conn!.readMessage(),
      WebSocketError,
    );
    assertEquals(err.closeCode, 1002);
    plain.client.close();
  }
});

Deno.test("accept() works over stream reads and writes", async () => {
  const packet = new Uint8Array([
    ...enc.encode(upgradeRequest()),
    ...frame(0x81, "early"),
  ]);
  const { client, conn, res } = await handshake(packet, { read: "byob" });
  try {
    assertEquals(res.status, 101);
    if (conn === undefined) throw new Error("accept() failed");
    assertEquals(dec.decode((await conn.readMessage()).data), "early");
    await client.write(frame(0x81, "late"));
    assertEquals(dec.decode((await conn.readMessage()).data), "late");
    conn.abort();
  } finally {
    client.close();
  }
});

Deno.test("accept() upgrades a TLS connection", async () => {
  const listener = listenTls();
  try {
    const client = await Deno.connectTls({
      hostname: "localhost",
      port: listener.addr.port,
      caCerts: [CA_CERT],
    });
    const [conn, , res] = await Promise.all([
      listener.accept().then((tls) => accept(tls)),
      client.write(enc.encode(upgradeRequest())),
      readRaw(client),
    ]);
    assertEquals(res.status, 101);
    assertStringIncludes(res.head, `Sec-WebSocket-Accept: ${ACCEPT}`);
    await client.write(frame(0x81, "secret"));
    assertEquals(dec.decode((await conn.readMessage()).data), "secret");
    await client.write(frame(0x88, new Uint8Array([0x03, 0xe8])));
    await assertRejects(() => conn.readMessage(), CloseError);
    client.close();
  } finally {
    listener.close();
  }
});

Deno.test("acceptKey() matches what accept() sends for a random key", async () => {
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  const { client, conn, res } = await handshake(
    upgradeRequest({ "Sec-WebSocket-Key": key }),
  );
  assertStringIncludes(
    res.head,
    `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n`,
  );
  conn?.abort();
  client.close();
});

// ---------------------------------------------------------------- interop

/** Our server on a loopback listener, one connection, driven by `serve`. */
async function withBuiltinClient(
  options: AcceptOptions,
  serve: (conn: WebSocketConn) => Promise<void>,
  drive: (ws: WebSocket) => Promise<void>,
  protocols?: string[],
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const ws = new WebSocket(
      `ws://127.0.0.1:${listener.addr.port}/`,
      protocols,
    );
    ws.binaryType = "arraybuffer";
    const closed = new Promise<void>((resolve) =>
      ws.addEventListener("close", () => resolve())
    );
    const conn = await accept(await listener.accept(), options);
    const opened = ws.readyState === WebSocket.OPEN
      ? Promise.resolve()
      : new Promise((resolve) => ws.addEventListener("open", resolve));
    await opened;
    await Promise.all([serve(conn), drive(ws)]);
    await closed;
  } finally {
    listener.close();
  }
}

function nextEvent<K extends keyof WebSocketEventMap>(
  ws: WebSocket,
  type: K,
): Promise<WebSocketEventMap[K]> {
  return new Promise((resolve) =>
    ws.addEventListener(type, resolve, { once: true })
  );
}

/** Echoes messages until the peer closes. */
async function echo(conn: WebSocketConn): Promise<void> {
  try {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  } catch (err) {
    if (!(err instanceof CloseError)) throw err;
  }
}

Deno.test("our server echoes the built-in client's messages of every size class", async () => {
  const sizes = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];
  await withBuiltinClient({ readLimit: 16 * 1024 * 1024 }, echo, async (ws) => {
    for (const size of sizes) {
      const data = pattern(size);
      ws.send(data);
      const got = await nextEvent(ws, "message");
      assertEquals(
        new Uint8Array(got.data as ArrayBuffer),
        data,
        `binary ${size}`,
      );
      const text = "é".repeat(Math.floor(size / 2)) + (size % 2 ? "a" : "");
      ws.send(text);
      const back = await nextEvent(ws, "message");
      assertEquals(back.data, text, `text ${size}`);
    }
    ws.close(1000, "done");
  });
});

Deno.test("our server's fragmented messages and pings reach the built-in client", async () => {
  let pongs = 0;
  await withBuiltinClient(
    { onPong: () => void pongs++ },
    async (conn) => {
      const parts = [pattern(3000), pattern(5000), pattern(1)];
      await conn.streamMessage(OpCode.Binary, ReadableStream.from(parts), 1024);
      await conn.ping(enc.encode("are you there"));
      await conn.writeMessage(OpCode.Text, "after ping");
      await echo(conn);
    },
    async (ws) => {
      const whole = await nextEvent(ws, "message");
      const expected = new Uint8Array([
        ...pattern(3000),
        ...pattern(5000),
        ...pattern(1),
      ]);
      assertEquals(new Uint8Array(whole.data as ArrayBuffer), expected);
      assertEquals((await nextEvent(ws, "message")).data, "after ping");
      ws.close();
    },
  );
  assertEquals(pongs, 1);
});

Deno.test("close paths with the built-in client: client closes, server closes, server aborts", async () => {
  // The client closes with a code and reason.
  await withBuiltinClient(
    {},
    async (conn) => {
      const err = await assertRejects(() => conn.readMessage(), CloseError);
      assertEquals([err.code, err.reason], [4000, "bye"]);
      assertEquals(await conn.closed, { code: 4000, reason: "bye" });
    },
    (ws) => Promise.resolve(ws.close(4000, "bye")),
  );
  // The server closes; the client sees a clean close with our code and reason.
  await withBuiltinClient(
    {},
    (conn) => conn.close(1001, "going away"),
    async (ws) => {
      const ev = await nextEvent(ws, "close");
      assertEquals([ev.code, ev.reason, ev.wasClean], [
        1001,
        "going away",
        true,
      ]);
    },
  );
  // The server drops the connection: the client sees 1006.
  await withBuiltinClient(
    {},
    (conn) => Promise.resolve(conn.abort()),
    async (ws) => {
      const ev = await nextEvent(ws, "close");
      // Deno reports code 0 rather than 1006 here; what matters is "not clean".
      assertEquals(ev.wasClean, false);
      assert(ev.code !== 1000, String(ev.code));
    },
  );
  // A message over the read limit: the client is told 1009.
  await withBuiltinClient(
    { readLimit: 1000 },
    async (conn) => {
      const err = await assertRejects(() => conn.readMessage(), WebSocketError);
      assertEquals(err.closeCode, 1009);
    },
    async (ws) => {
      ws.send(pattern(1001));
      const ev = await nextEvent(ws, "close");
      assertEquals(ev.code, 1009);
    },
  );
});

Deno.test("our server negotiates a subprotocol with the built-in client", async () => {
  await withBuiltinClient(
    { protocols: ["chat.v1", "chat.v2"] },
    async (conn) => {
      assertEquals(conn.protocol, "chat.v2");
      await conn.close();
    },
    async (ws) => {
      assertEquals(ws.protocol, "chat.v2");
      await nextEvent(ws, "close");
    },
    ["chat.v2", "chat.v1"],
  );
});

// ---------------------------------------------------------------- example

Deno.test("examples/echo_server.ts echoes up to 16 MiB and outlives a bad client", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "examples/echo_server.ts",
      "--port",
      "0",
    ],
    cwd: new URL("../..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let banner = "";
    for (let i = 0; i < 20 && !banner.includes("\n"); i++) {
      const { value, done } = await lines.read();
      if (done) break;
      banner += value;
    }
    const port = Number(/:(\d+)\s/.exec(banner)?.[1]);
    assert(port > 0, banner);

    // A client that is not speaking WebSocket is refused...
    const bad = await Deno.connect({ hostname: "127.0.0.1", port });
    await bad.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assertEquals((await readRaw(bad)).status, 426);
    bad.close();
    // ...one that breaks the protocol is closed with 1002...
    const rude = await dial(`ws://127.0.0.1:${port}`);
    await rude.writeFrame(true, 0, 0x3, new Uint8Array(0)); // reserved opcode
    const err = await assertRejects(() => rude.readMessage(), CloseError);
    assertEquals(err.code, 1002);
    // ...and the next client is served all the same.
    const conn = await dial(`ws://127.0.0.1:${port}`, {
      readLimit: 16 * 1024 * 1024,
    });
    for (const size of [0, 125, 65536, 16 * 1024 * 1024]) {
      const data = pattern(size);
      await conn.writeMessage(OpCode.Binary, data);
      const msg = await conn.readMessage();
      assertEquals([msg.opcode, msg.data.length], [OpCode.Binary, size]);
      assertEquals(msg.data, data);
    }
    await conn.streamMessage(
      OpCode.Text,
      ReadableStream.from([enc.encode("in "), enc.encode("parts")]),
    );
    assertEquals(dec.decode((await conn.readMessage()).data), "in parts");
    await conn.close(1000, "bye");
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    lines.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const log = await new Response(child.stderr).text();
    assert(status.success || status.signal === "SIGTERM", log);
  }
});

Deno.test("accept() over a plain stream keeps frames that arrived in the request's chunk", async () => {
  const request = enc.encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const frames: number[] = [];
  for (let i = 0; i < 500; i++) frames.push(...frame(0x81, `message ${i}`));
  const chunk = new Uint8Array(request.length + frames.length);
  chunk.set(request);
  chunk.set(frames, request.length);
  // One chunk, far larger than the handshake buffer, from a non-byte stream.
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(chunk);
    },
  });
  const writable = new WritableStream<Uint8Array>();
  const conn = await accept({ readable, writable });
  for (let i = 0; i < 500; i++) {
    assertEquals(dec.decode((await conn.readMessage()).data), `message ${i}`);
  }
  conn.abort();
});

Deno.test("accept() onHeader refuses as soon as a field arrives, before the rest of the head", async () => {
  const started = performance.now();
  const partial =
    "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: wrong\r\nUpgr";
  const seen: string[] = [];
  const { error, res } = await assertRefused(partial, 401, {
    handshakeTimeout: 5_000,
    onHeader(name, value) {
      seen.push(name);
      if (name === "x-api-key" && value !== "right") {
        return new Rejection(401, { body: "Bad API key" });
      }
    },
  });
  assert(performance.now() - started < 2_000, "answered before the timeout");
  assertEquals(res.body, "Bad API key");
  assertEquals(error.message, "Bad API key");
  assertEquals(seen, ["host", "x-api-key"]);
});

Deno.test("accept() onHeader sees every field in order, names in lower case, values trimmed", async () => {
  const seen: [string, string][] = [];
  const { client, conn, res } = await handshake(
    upgradeRequest({ "X-Tag": "  one ", "x-tag": "two" }).replace(
      "Host:",
      "Cookie:\ta=1\r\nHost:",
    ),
    { onHeader: (name, value) => void seen.push([name, value]) },
  );
  try {
    assertEquals(res.status, 101);
    assertEquals(seen, [
      ["cookie", "a=1"],
      ["host", "127.0.0.1"],
      ["upgrade", "websocket"],
      ["connection", "Upgrade"],
      ["sec-websocket-key", KEY],
      ["sec-websocket-version", "13"],
      ["x-tag", "one"],
      ["x-tag", "two"],
    ]);
    conn?.abort();
  } finally {
    client.close();
  }
});

Deno.test("accept() onHeader: a thrown Rejection is sent, any other error answers 500", async () => {
  await assertRefused(upgradeRequest(), 429, {
    onHeader(name) {
      if (name === "upgrade") throw new Rejection(429, { body: "slow down" });
    },
  });
  const { res } = await assertRefused(upgradeRequest(), 500, {
    onHeader() {
      throw new Error("internal detail");
    },
  });
  assertEquals(res.body, "");
});

Deno.test("accept() onBeforeUpgrade sees what was settled and adds fields to the 101", async () => {
  const infos: [string, string, string[]][] = [];
  const { client, conn, res } = await handshake(
    upgradeRequest({ "Sec-WebSocket-Protocol": "v2, v1" }),
    {
      protocols: ["v1", "v2"],
      onRequest: () => ({ "X-From": "onRequest" }),
      onBeforeUpgrade({ request, protocol, extensions }) {
        infos.push([protocol, extensions, [...request.protocols]]);
        return { "X-Chosen": protocol, "X-From": "onBeforeUpgrade" };
      },
    },
  );
  try {
    assertEquals(res.status, 101);
    assertEquals(infos, [["v2", "", ["v2", "v1"]]]);
    assertStringIncludes(res.head, "x-chosen: v2\r\n");
    assertStringIncludes(res.head, "x-from: onRequest, onBeforeUpgrade\r\n");
    conn?.abort();
  } finally {
    client.close();
  }
  await assertRefused(upgradeRequest(), 409, {
    onBeforeUpgrade: async () => {
      await Promise.resolve();
      return new Rejection(409, { body: "already connected" });
    },
  });
});

Deno.test("accept() onBeforeUpgrade fields reach dial's onResponse", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let header: string | null = null;
  const [server, client] = await Promise.all([
    listener.accept().then((tcp) =>
      accept(tcp, { onBeforeUpgrade: () => ({ "X-Session": "s-42" }) })
    ),
    dial(`ws://127.0.0.1:${listener.addr.port}/`, {
      onResponse: (_, headers) => void (header = headers.get("x-session")),
    }),
  ]);
  assertEquals(header, "s-42");
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
  listener.close();
});
