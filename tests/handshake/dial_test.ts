import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { accept } from "../../src/handshake/accept.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { dial, type DialOptions } from "../../src/handshake/dial.ts";
import {
  CloseError,
  HandshakeError,
  WebSocketError,
} from "../../src/codec/errors.ts";
import { acceptKey, isValidKey } from "../../src/handshake/key.ts";
import { readRequest, readResponse } from "../../src/handshake/http_io.ts";
import type { HttpRequest } from "../../src/handshake/http_parse.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { ByteSource } from "../../src/io/transport.ts";
import { frame } from "../_pair.ts";
import { HELLO_DEFLATED, pattern, readsEof } from "./_fixtures.ts";
import { CA_CERT, listenTls, SERVER_CERT, SERVER_KEY } from "../_tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a scripted server answers: raw bytes, or a function of the request. */
type Script = (
  request: HttpRequest,
  accept: string,
) => string | Uint8Array | null;

interface Scripted {
  url: string;
  /** The request the server read, once it has. */
  request: Promise<HttpRequest>;
  /** The server's end of the connection, once accepted. */
  socket: Promise<Deno.Conn>;
  close(): Promise<void>;
}

/** A one-connection raw server that reads the request and answers with `script`. */
function scriptedServer(script: Script): Scripted {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const socket = listener.accept();
  const request = socket.then(async (conn) => {
    const { head } = await readRequest(new ByteSource(conn, 8192));
    const key = head.headers.get("sec-websocket-key") ?? "";
    const answer = script(head, await acceptKey(key));
    if (answer !== null) {
      await conn.write(
        typeof answer === "string" ? enc.encode(answer) : answer,
      );
    }
    return head;
  });
  // A test may never connect; its server then fails quietly.
  socket.catch(() => {});
  request.catch(() => {});
  return {
    url: `ws://127.0.0.1:${listener.addr.port}`,
    request,
    socket,
    async close() {
      listener.close();
      try {
        (await socket).close();
      } catch {
        // Already closed.
      }
    },
  };
}

function switching(accept: string, extra = ""): string {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
    `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let filled = 0;
  for (let i = 0; i < 1000 && filled < n; i++) {
    const got = await conn.read(buf.subarray(filled));
    if (got === null) break;
    filled += got;
  }
  return buf.subarray(0, filled);
}

Deno.test("dial() sends a valid upgrade request and returns a client Conn", async () => {
  const server = scriptedServer((_, accept) =>
    switching(accept, "Sec-WebSocket-Protocol: chat.v1\r\n")
  );
  try {
    const conn = await dial(`${server.url}/room/1?name=a%20b#ignored`, {
      protocols: ["chat.v2", "chat.v1"],
      headers: { Authorization: "Bearer t", "X-Trace": "1" },
    });
    const req = await server.request;
    assertEquals([req.method, req.target, req.version], [
      "GET",
      "/room/1?name=a%20b",
      "HTTP/1.1",
    ]);
    const h = req.headers;
    assertEquals(h.get("host"), new URL(server.url).host);
    assertEquals(h.get("upgrade"), "websocket");
    assertEquals(h.get("connection"), "Upgrade");
    assertEquals(h.get("sec-websocket-version"), "13");
    assert(isValidKey(h.get("sec-websocket-key")!));
    assertEquals(h.get("sec-websocket-protocol"), "chat.v2, chat.v1");
    assertEquals(h.get("authorization"), "Bearer t");
    assertEquals(h.get("x-trace"), "1");
    assertEquals(h.has("sec-websocket-extensions"), false);
    assertEquals([conn.role, conn.protocol, conn.extensions], [
      "client",
      "chat.v1",
      "",
    ]);

    await conn.writeMessage(OpCode.Text, "hi");
    const sent = await readExactly(await server.socket, 8);
    assertEquals(sent[0], 0x81);
    assertEquals(sent[1], 0x80 | 2, "client frames are masked");
    const key = sent.subarray(2, 6);
    assertEquals([sent[6] ^ key[0], sent[7] ^ key[1]], [0x68, 0x69]);
    conn.abort();
  } finally {
    await server.close();
  }
});

Deno.test("dial() keeps frames that arrive with the 101 as the start of the stream", async () => {
  const server = scriptedServer((_, accept) =>
    new Uint8Array([
      ...enc.encode(switching(accept)),
      ...frame(0x81, "first", null),
      ...frame(0x82, new Uint8Array([9, 8, 7]), null),
    ])
  );
  try {
    const conn = await dial(server.url);
    assertEquals(dec.decode((await conn.readMessage()).data), "first");
    assertEquals((await conn.readMessage()).data, new Uint8Array([9, 8, 7]));
    conn.abort();
  } finally {
    await server.close();
  }
});

Deno.test("dial() fails with the server's status on each invalid answer and closes the socket", async () => {
  const cases: [string, Script, number, string][] = [
    [
      "403 with a body",
      () => "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nNope",
      403,
      "403 Forbidden",
    ],
    ["200", () => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "200"],
    [
      "bad accept key",
      () => switching("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
      101,
      "Sec-WebSocket-Accept",
    ],
    [
      "no Upgrade",
      (_, a) =>
        `HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      101,
      "Upgrade",
    ],
    [
      "no Connection",
      (_, a) =>
        `HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      101,
      "Connection",
    ],
    [
      "unoffered subprotocol",
      (_, a) => switching(a, "Sec-WebSocket-Protocol: chat.v3\r\n"),
      101,
      "not offered",
    ],
    [
      "unrequested extension",
      (_, a) =>
        switching(a, "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
      101,
      "not offered",
    ],
    [
      "garbage",
      () => "SSH-2.0-OpenSSH\r\n\r\n",
      0,
      "Invalid handshake response",
    ],
    ["closed early", () => "HTTP/1.1 101 Switching", 0, "Connection closed"],
  ];
  for (const [name, script, status, message] of cases) {
    const server = scriptedServer((req, accept) => {
      const answer = script(req, accept);
      if (name === "closed early") {
        server.socket.then((s) => s.closeWrite());
      }
      return answer;
    });
    try {
      const err = await assertRejects(
        () => dial(server.url, { protocols: ["chat.v1"] }),
        HandshakeError,
        undefined,
        name,
      );
      assertEquals(err.status, status, name);
      assertStringIncludes(err.message, message, name);
      assert(await readsEof(await server.socket), `${name}: socket closed`);
    } finally {
      await server.close();
    }
  }
});

Deno.test("dial() gives up with status 0 when the server does not answer in time", async () => {
  const server = scriptedServer(() => null);
  try {
    const started = performance.now();
    const err = await assertRejects(
      () => dial(server.url, { timeout: 150 }),
      HandshakeError,
      "Timed out",
    );
    assertEquals(err.status, 0);
    const elapsed = performance.now() - started;
    assert(elapsed >= 140 && elapsed < 2_000, `took ${elapsed} ms`);
    assert(await readsEof(await server.socket));
  } finally {
    await server.close();
  }
});

Deno.test("dial() stops on its signal with the signal's reason", async () => {
  const server = scriptedServer(() => null);
  try {
    const controller = new AbortController();
    const dialling = dial(server.url, { signal: controller.signal });
    await server.request;
    controller.abort(new Error("User left"));
    await assertRejects(() => dialling, Error, "User left");
    assert(await readsEof(await server.socket));
    await assertRejects(
      () =>
        dial(server.url, { signal: AbortSignal.abort(new Error("Before")) }),
      Error,
      "Before",
    );
  } finally {
    await server.close();
  }
});

Deno.test("dial() refuses bad URLs, subprotocols and header fields before connecting", async () => {
  await assertRejects(() => dial("ftp://127.0.0.1/"), TypeError, "ws: or wss:");
  await assertRejects(() => dial("not a url"), TypeError);
  await assertRejects(
    () => dial("ws://127.0.0.1:1/", { protocols: ["a b"] }),
    TypeError,
  );
  await assertRejects(
    () => dial("ws://127.0.0.1:1/", { protocols: ["a", "a"] }),
    TypeError,
  );
  await assertRejects(
    () => dial("ws://127.0.0.1:1/", { timeout: 0 }),
    RangeError,
  );
  const server = scriptedServer((_, a) => switching(a));
  try {
    await assertRejects(
      () => dial(server.url, { headers: { "Sec-WebSocket-Key": "x" } }),
      TypeError,
      "handshake header",
    );
  } finally {
    await server.close();
  }
});

Deno.test("dial() passes on a refused connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  await assertRejects(
    () => dial(`ws://127.0.0.1:${port}`),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("dial() offers deflate through the seam and allows RSV1 once agreed", async () => {
  const server = scriptedServer((req, accept) => {
    assertEquals(
      req.headers.get("sec-websocket-extensions"),
      "permessage-deflate",
    );
    return new Uint8Array([
      ...enc.encode(
        switching(accept, "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
      ),
      ...frame(0xc1, HELLO_DEFLATED, null),
    ]);
  });
  try {
    const conn = await dial(server.url, { deflate: true });
    assertEquals(conn.extensions, "permessage-deflate");
    assertEquals(dec.decode((await conn.readMessage()).data), "Hello");
    conn.abort();
  } finally {
    await server.close();
  }
});

Deno.test("dial() fails when the extension seam refuses the answer", async () => {
  const server = scriptedServer((_, accept) =>
    switching(accept, "Sec-WebSocket-Extensions: permessage-deflate; bad\r\n")
  );
  try {
    const err = await assertRejects(
      () => dial(server.url, { deflate: true }),
      HandshakeError,
      "not acceptable",
    );
    assertEquals(err.status, 101);
  } finally {
    await server.close();
  }
});

Deno.test("dial() and accept() talk over stream reads and writes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      dial(`ws://127.0.0.1:${listener.addr.port}`, { read: "byob" }),
      listener.accept().then((tcp) => accept(tcp, { read: "byob" })),
    ]);
    await client.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3]));
    assertEquals((await server.readMessage()).data, new Uint8Array([1, 2, 3]));
    await server.writeMessage(OpCode.Text, "back");
    assertEquals(dec.decode((await client.readMessage()).data), "back");
    const serverSide = server.readMessage().catch((err) => err);
    await client.close(1000, "done");
    assertInstanceOf(await serverSide, CloseError);
  } finally {
    listener.close();
  }
});

Deno.test("dial() reaches a wss:// server whose CA it is given, and only then", async () => {
  const listener = listenTls();
  try {
    const url = `wss://localhost:${listener.addr.port}/secure`;
    const serving = listener.accept().then((tls) =>
      accept(tls, { protocols: ["p"] })
    );
    const client = await dial(url, { caCerts: [CA_CERT], protocols: ["p"] });
    const server = await serving;
    assertEquals([client.protocol, server.protocol], ["p", "p"]);
    await client.writeMessage(OpCode.Text, "over tls");
    assertEquals(dec.decode((await server.readMessage()).data), "over tls");
    const serverSide = server.readMessage().catch((err) => err);
    await client.close();
    assertInstanceOf(await serverSide, CloseError);

    // Without the CA, the certificate is not trusted.
    const refused = listener.accept().then((tls) =>
      accept(tls).catch(() => null)
    );
    await assertRejects(() => dial(url, { timeout: 5_000 }));
    await refused;
  } finally {
    listener.close();
  }
});

Deno.test("dial() reaches a server on ::1", async () => {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: "::1", port: 0 });
  } catch {
    return; // no IPv6 loopback here: nothing to test
  }
  try {
    const [client, server] = await Promise.all([
      dial(`ws://[::1]:${listener.addr.port}/`),
      listener.accept().then((tcp) => accept(tcp)),
    ]);
    await client.writeMessage(OpCode.Text, "v6");
    assertEquals(dec.decode((await server.readMessage()).data), "v6");
    client.abort();
    server.abort();
  } finally {
    listener.close();
  }
});

// ---------------------------------------------------------------- interop

interface BuiltinServer {
  url: string;
  /** Sockets of accepted upgrades, in order. */
  sockets: WebSocket[];
  /** The close event of each socket, in the same order. */
  closes: Promise<CloseEvent>[];
  shutdown(): Promise<void>;
}

/** Deno.serve + Deno.upgradeWebSocket, calling `onSocket` for each upgrade. */
function builtinServer(
  onSocket: (ws: WebSocket) => void,
  options: { protocol?: string; tls?: boolean } = {},
): BuiltinServer {
  const sockets: WebSocket[] = [];
  const closes: Promise<CloseEvent>[] = [];
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      ...(options.tls ? { cert: SERVER_CERT, key: SERVER_KEY } : {}),
    },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, {
        protocol: options.protocol,
      });
      socket.binaryType = "arraybuffer";
      sockets.push(socket);
      closes.push(
        new Promise((resolve) =>
          socket.addEventListener("close", resolve, { once: true })
        ),
      );
      onSocket(socket);
      return response;
    },
  );
  const scheme = options.tls ? "wss" : "ws";
  const host = options.tls ? "localhost" : "127.0.0.1";
  return {
    url: `${scheme}://${host}:${server.addr.port}`,
    sockets,
    closes,
    shutdown: () => server.shutdown(),
  };
}

function echoSocket(ws: WebSocket): void {
  ws.onmessage = (e) => ws.send(e.data);
}

async function roundTrip(
  conn: WebSocketConn,
  opcode: 1 | 2,
  data: Uint8Array | string,
) {
  await conn.writeMessage(opcode, data);
  const msg = await conn.readMessage();
  assertEquals(msg.opcode, opcode);
  return msg.data;
}

Deno.test("our client echoes every size class through Deno.serve", async () => {
  const server = builtinServer(echoSocket);
  const options: DialOptions = { readLimit: 16 * 1024 * 1024 };
  try {
    const conn = await dial(server.url, options);
    for (const size of [0, 125, 126, 65535, 65536, 16 * 1024 * 1024]) {
      const data = pattern(size);
      assertEquals(
        await roundTrip(conn, OpCode.Binary, data),
        data,
        `binary ${size}`,
      );
      const text = "ü".repeat(size >> 1) + (size & 1 ? "!" : "");
      assertEquals(
        dec.decode(await roundTrip(conn, OpCode.Text, text)),
        text,
        `text ${size}`,
      );
    }
    await conn.close(1000, "done");
    const ev = await server.closes[0];
    assertEquals([ev.code, ev.reason], [1000, "done"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("our client's fragmented messages and pings reach Deno.serve", async () => {
  const server = builtinServer(echoSocket);
  let pongs = 0;
  try {
    const conn = await dial(server.url, { onPong: () => void pongs++ });
    const parts = [enc.encode("frag"), enc.encode("men"), enc.encode("ted ✓")];
    await conn.streamMessage(OpCode.Text, ReadableStream.from(parts), 2);
    assertEquals(dec.decode((await conn.readMessage()).data), "fragmented ✓");
    await conn.ping(enc.encode("hello?"));
    await conn.writeMessage(OpCode.Text, "sync");
    assertEquals(dec.decode((await conn.readMessage()).data), "sync");
    assertEquals(pongs, 1);
    await conn.close();
    await server.closes[0];
  } finally {
    await server.shutdown();
  }
});

Deno.test("our client answers Deno.serve's keep-alive pings", async () => {
  // With idleTimeout, Deno's server pings and drops a peer that does not pong.
  const sockets: WebSocket[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, {
        idleTimeout: 1,
      });
      sockets.push(socket);
      socket.onopen = () => setTimeout(() => socket.send("still here"), 2_500);
      return response;
    },
  );
  try {
    let pings = 0;
    const conn: WebSocketConn = await dial(
      `ws://127.0.0.1:${server.addr.port}`,
      {
        onPing: (payload) => {
          pings++;
          return conn.pong(payload);
        },
      },
    );
    assertEquals(dec.decode((await conn.readMessage()).data), "still here");
    assert(pings >= 1, `pings: ${pings}`);
    await conn.close();
  } finally {
    await server.shutdown();
  }
  assertEquals(sockets.length, 1);
});

Deno.test("close paths with Deno.serve: server closes, client aborts, limits", async () => {
  // The server closes with a code and reason: the read reports them.
  const closing = builtinServer((ws) => {
    ws.onopen = () => ws.close(4001, "server says bye");
  });
  try {
    const conn = await dial(closing.url);
    const err = await assertRejects(() => conn.readMessage(), CloseError);
    assertEquals([err.code, err.reason], [4001, "server says bye"]);
    assertEquals(await conn.closed, { code: 4001, reason: "server says bye" });
    await closing.closes[0];
  } finally {
    await closing.shutdown();
  }

  // Our client drops the connection: the server sees an unclean close.
  const dropped = builtinServer(() => {});
  try {
    const conn = await dial(dropped.url);
    conn.abort();
    const ev = await dropped.closes[0];
    assertEquals(ev.wasClean, false);
  } finally {
    await dropped.shutdown();
  }

  // A message over our read limit: we close with 1009 and the server hears it.
  const flooding = builtinServer((ws) => {
    ws.onopen = () => ws.send(pattern(2000));
  });
  try {
    const conn = await dial(flooding.url, { readLimit: 1000 });
    const err = await assertRejects(() => conn.readMessage(), WebSocketError);
    assertEquals(err.closeCode, 1009);
    const ev = await flooding.closes[0];
    assertEquals(ev.code, 1009);
  } finally {
    await flooding.shutdown();
  }
});

Deno.test("our client negotiates a subprotocol with Deno.upgradeWebSocket", async () => {
  const server = builtinServer(() => {}, { protocol: "chat.v1" });
  try {
    const conn = await dial(server.url, { protocols: ["chat.v2", "chat.v1"] });
    assertEquals(conn.protocol, "chat.v1");
    await conn.close();
    await server.closes[0];
  } finally {
    await server.shutdown();
  }
});

Deno.test("our client reaches Deno.serve over TLS with a custom CA", async () => {
  const server = builtinServer(echoSocket, { tls: true });
  try {
    const conn = await dial(server.url, { caCerts: [CA_CERT] });
    assertEquals(
      dec.decode(await roundTrip(conn, OpCode.Text, "tls echo")),
      "tls echo",
    );
    await conn.close();
    await server.closes[0];
  } finally {
    await server.shutdown();
  }
});

// ---------------------------------------------------------------- example

Deno.test("examples/autobahn_client.ts runs each case, echoing, then asks for reports", async () => {
  const CASES = 3;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const echoed: string[] = [];
  const serveOne = async (tcp: Deno.Conn): Promise<boolean> => {
    let target = "";
    const conn = await accept(tcp, {
      onRequest(request) {
        target = request.target;
        seen.push(target);
      },
    });
    const url = new URL(target, "http://x");
    if (url.pathname === "/getCaseCount") {
      await conn.writeMessage(OpCode.Text, String(CASES));
    } else if (url.pathname === "/runCase") {
      const n = Number(url.searchParams.get("case"));
      await conn.writeMessage(OpCode.Text, `case ${n}`);
      echoed.push(dec.decode((await conn.readMessage()).data));
      const parts = [pattern(70_000), pattern(3)];
      await conn.streamMessage(OpCode.Binary, ReadableStream.from(parts), 4096);
      assertEquals((await conn.readMessage()).data.length, 70_003);
    }
    await conn.close();
    return url.pathname === "/updateReports";
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "examples/autobahn_client.ts",
      `ws://127.0.0.1:${listener.addr.port}`,
    ],
    cwd: new URL("../..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // Stop waiting for connections if the client exits early.
    const exited = child.status.then(() => null);
    for (let i = 0; i < CASES + 2; i++) {
      const tcp = await Promise.race([listener.accept(), exited]);
      if (tcp === null || await serveOne(tcp)) break;
    }
    const { code, stdout, stderr } = await child.output();
    assertEquals(code, 0, dec.decode(stderr));
    assertStringIncludes(dec.decode(stdout), "Reports updated");
  } finally {
    listener.close();
  }
  assertEquals(seen, [
    "/getCaseCount",
    "/runCase?case=1&agent=wsx",
    "/runCase?case=2&agent=wsx",
    "/runCase?case=3&agent=wsx",
    "/updateReports?agent=wsx",
  ]);
  assertEquals(echoed, ["case 1", "case 2", "case 3"]);
});

Deno.test("dial() refusals carry the status, header fields and up to 4 KiB of body", async () => {
  const big = "x".repeat(5000);
  const cases: [string, string, number, string][] = [
    [
      "401, Content-Length",
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="ws"\r\n' +
      "Content-Length: 13\r\n\r\ntoken expired",
      401,
      "token expired",
    ],
    [
      "403, chunked",
      "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "4\r\nnot \r\n7;ext=1\r\nallowed\r\n0\r\n\r\n",
      403,
      "not allowed",
    ],
    [
      "500, until the server closes",
      "HTTP/1.1 500 Internal Server Error\r\n\r\nit broke",
      500,
      "it broke",
    ],
    [
      "503, a body over 4 KiB is cut",
      `HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
      503,
      big.slice(0, 4096),
    ],
    [
      "302, no body",
      "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
      302,
      "",
    ],
  ];
  for (const [name, answer, status, body] of cases) {
    const server = scriptedServer(() => {
      if (name.includes("closes")) server.socket.then((s) => s.closeWrite());
      return answer;
    });
    try {
      const err = await assertRejects(
        () => dial(server.url),
        HandshakeError,
        `Server answered ${status}`,
        name,
      );
      assertEquals(err.status, status, name);
      assertEquals(dec.decode(err.body), body, name);
      if (status === 401) {
        assertEquals(err.headers.get("www-authenticate"), 'Bearer realm="ws"');
      }
      if (status === 302) {
        assertEquals(err.headers.get("location"), "/elsewhere");
      }
      assert(await readsEof(await server.socket), `${name}: socket closed`);
    } finally {
      await server.close();
    }
  }
});

Deno.test("dial() keeps the part of a refusal's body that arrived before the timeout", async () => {
  const server = scriptedServer(() =>
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\npartial"
  );
  try {
    const err = await assertRejects(
      () => dial(server.url, { timeout: 300 }),
      HandshakeError,
    );
    assertEquals([err.status, dec.decode(err.body)], [500, "partial"]);
  } finally {
    await server.close();
  }
});

Deno.test("dial() onResponse sees the answer before it is checked, and aborts by throwing", async () => {
  const seen: [number, string | null][] = [];
  const server = scriptedServer((_, a) => switching(a, "X-Trace: t-1\r\n"));
  try {
    const conn = await dial(server.url, {
      onResponse(status, headers) {
        seen.push([status, headers.get("x-trace")]);
      },
    });
    assertEquals(seen, [[101, "t-1"]]);
    conn.abort();
  } finally {
    await server.close();
  }
  const refused = scriptedServer(() =>
    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
  );
  try {
    const err = await assertRejects(
      () =>
        dial(refused.url, {
          async onResponse(status) {
            await Promise.resolve();
            if (status === 401) throw new Error("sign in first");
          },
        }),
      Error,
      "sign in first",
    );
    assert(!(err instanceof HandshakeError));
    assert(await readsEof(await refused.socket), "socket closed");
  } finally {
    await refused.close();
  }
});

/**
 * A tiny HTTP CONNECT proxy on 127.0.0.1: each tunnel is answered 200 and then
 * piped both ways; `targets` lists where tunnels went, `outbound` the local
 * ports of its sockets to them.
 */
function connectProxy() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const targets: string[] = [];
  const outbound: number[] = [];
  const tunnels: Promise<void>[] = [];
  const loop = (async () => {
    for await (const client of listener) {
      tunnels.push((async () => {
        const { head, rest } = await readRequest(new ByteSource(client, 8192))
          .catch(() => ({ head: null, rest: new Uint8Array(0) }));
        if (head === null || head.method !== "CONNECT") {
          await client.write(enc.encode("HTTP/1.1 405 No\r\n\r\n"));
          client.close();
          return;
        }
        targets.push(head.target);
        const [hostname, port] = head.target.split(":");
        const upstream = await Deno.connect({ hostname, port: Number(port) });
        outbound.push(upstream.localAddr.port);
        await client.write(
          enc.encode("HTTP/1.1 200 Connection Established\r\n\r\n"),
        );
        if (rest.length > 0) await upstream.write(rest);
        await Promise.allSettled([
          client.readable.pipeTo(upstream.writable),
          upstream.readable.pipeTo(client.writable),
        ]);
      })());
    }
  })();
  return {
    port: listener.addr.port,
    targets,
    outbound,
    async close() {
      listener.close();
      await loop;
      await Promise.allSettled(tunnels);
    },
  };
}

Deno.test("dial() runs the handshake on a caller's transport: through an HTTP CONNECT proxy", async () => {
  const proxy = connectProxy();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const target = `127.0.0.1:${listener.addr.port}`;
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await tcp.write(
      enc.encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    const { head } = await readResponse(new ByteSource(tcp, 8192));
    assertEquals(head.status, 200);
    const [client, server] = await Promise.all([
      dial(`ws://${target}/via-proxy`, { transport: tcp, protocols: ["chat"] }),
      listener.accept().then((s) => accept(s, { protocols: ["chat"] })),
    ]);
    assertEquals(client.protocol, "chat");
    assertEquals(proxy.targets, [target]);
    // The server sees the proxy's socket, not ours.
    assertEquals((server.remoteAddr as Deno.NetAddr).port, proxy.outbound[0]);
    assertEquals((client.remoteAddr as Deno.NetAddr).port, proxy.port);
    await client.writeMessage(OpCode.Text, "through the tunnel");
    const msg = await server.readMessage();
    await server.writeMessage(msg.opcode, msg.data);
    assertEquals(
      dec.decode((await client.readMessage()).data),
      "through the tunnel",
    );
    await Promise.all([client.close(), server.readMessage().catch(() => {})]);
  } finally {
    listener.close();
    await proxy.close();
  }
});

Deno.test("dial() closes a caller's transport when the handshake over it fails", async () => {
  const server = scriptedServer(() =>
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
  );
  try {
    const port = Number(new URL(server.url).port);
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    const err = await assertRejects(
      () => dial("ws://example.test/", { transport: tcp }),
      HandshakeError,
    );
    assertEquals([err.status, dec.decode(err.body)], [403, "no"]);
    assertEquals((await server.request).headers.get("host"), "example.test");
    assert(await readsEof(await server.socket), "socket closed");
  } finally {
    await server.close();
  }
});

Deno.test("dial() over a CONNECT tunnel to a wss:// server, TLS started by the caller", async () => {
  const proxy = connectProxy();
  const listener = listenTls();
  const target = `localhost:${listener.addr.port}`;
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await tcp.write(
      enc.encode(
        `CONNECT 127.0.0.1:${listener.addr.port} HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
      ),
    );
    const { head, rest } = await readResponse(new ByteSource(tcp, 8192));
    assertEquals([head.status, rest.length], [200, 0]);
    const tls = await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [CA_CERT],
    });
    const [client, server] = await Promise.all([
      dial(`wss://${target}/secure`, { transport: tls }),
      listener.accept().then((s) => accept(s)),
    ]);
    await client.writeMessage(OpCode.Text, "tls in a tunnel");
    assertEquals(
      dec.decode((await server.readMessage()).data),
      "tls in a tunnel",
    );
    assertEquals(proxy.targets, [`127.0.0.1:${listener.addr.port}`]);
    await Promise.all([client.close(), server.readMessage().catch(() => {})]);
  } finally {
    listener.close();
    await proxy.close();
  }
});
