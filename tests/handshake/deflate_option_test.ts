/**
 * The `deflate` option of accept, dial, serve and createNodeServer over loopback:
 * what each side negotiates, that compressed frames really cross the wire, and
 * the option's refusals.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import {
  accept,
  Conn,
  dial,
  OpCode,
  Rsv,
  serve,
  type WebSocketConn,
} from "../../mod.ts";
import { createNodeServer } from "../../node.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import type { AcceptOptions } from "../../src/handshake/accept.ts";
import type { DialOptions } from "../../src/handshake/dial.ts";
import { dec, enc } from "../_wire.ts";

const JSON_TEXT = JSON.stringify(
  Array.from(
    { length: 40 },
    (_, i) => ({ id: i, name: `item ${i}`, ok: true }),
  ),
);

/** Accepts one connection with `server` options while dialling with `client`. */
async function pair(
  server: AcceptOptions,
  client: DialOptions,
): Promise<{ server: WebSocketConn; client: WebSocketConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [s, c] = await Promise.all([
      listener.accept().then((tcp) => accept(tcp, server)),
      dial(`ws://127.0.0.1:${listener.addr.port}/`, client),
    ]);
    return { server: s, client: c };
  } finally {
    listener.close();
  }
}

async function closeBoth(a: WebSocketConn, b: WebSocketConn): Promise<void> {
  await Promise.all([a.close(), b.readMessage().catch(() => {})]);
  await Promise.all([a.closed, b.closed]);
}

Deno.test("deflate: true on both sides negotiates and compresses on the wire", async () => {
  const { server, client } = await pair({ deflate: true }, { deflate: true });
  assertInstanceOf(server, PerMessageDeflateConn);
  assertInstanceOf(client, PerMessageDeflateConn);
  assertEquals(server.extensions, "permessage-deflate");
  assert(client.extensions.startsWith("permessage-deflate"));
  for (let i = 0; i < 3; i++) {
    await client.writeMessage(OpCode.Text, JSON_TEXT);
    const got = await server.readMessage();
    assertEquals(got.rsv, Rsv.Rsv1, "the client's frame carried RSV1");
    assertEquals(dec(got.data), JSON_TEXT);
    await server.writeMessage(OpCode.Text, got.data);
    const back = await client.readMessage();
    assertEquals(back.rsv, Rsv.Rsv1, "the server's frame carried RSV1");
    assertEquals(dec(back.data), JSON_TEXT);
  }
  // Below the threshold a message goes uncompressed.
  await client.writeMessage(OpCode.Text, "hi");
  assertEquals((await server.readMessage()).rsv, 0);
  await closeBoth(client, server);
});

Deno.test("deflate: options reach the offer and the answer", async () => {
  const { server, client } = await pair(
    { deflate: { level: 1, threshold: 0 } },
    {
      deflate: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    },
  );
  assertEquals(
    server.extensions,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  assertEquals(client.extensions, server.extensions);
  await client.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3]));
  const got = await server.readMessage();
  assertEquals(
    got.rsv,
    0,
    "the client's default threshold keeps 3 bytes plain",
  );
  assertEquals([...got.data], [1, 2, 3]);
  await server.writeMessage(OpCode.Binary, new Uint8Array([4]));
  assertEquals(
    (await client.readMessage()).rsv,
    Rsv.Rsv1,
    "server threshold 0",
  );
  await closeBoth(server, client);
});

Deno.test("deflate: a side without it gets a plain Conn", async (t) => {
  await t.step(
    "server offers nothing to a client that does not ask",
    async () => {
      const { server, client } = await pair({ deflate: true }, {});
      assertInstanceOf(server, Conn);
      assertEquals(server.extensions, "");
      await closeBoth(client, server);
    },
  );
  await t.step(
    "client's offer is declined by a server without it",
    async () => {
      const { server, client } = await pair({}, { deflate: true });
      assertInstanceOf(client, Conn);
      assertEquals(client.extensions, "");
      await client.writeMessage(OpCode.Text, JSON_TEXT);
      assertEquals((await server.readMessage()).rsv, 0);
      await closeBoth(client, server);
    },
  );
  await t.step("enabled: false and false turn it off", async () => {
    const { server, client } = await pair(
      { deflate: { enabled: false } },
      { deflate: true },
    );
    assertInstanceOf(server, Conn);
    assertInstanceOf(client, Conn);
    await closeBoth(client, server);
    const again = await pair({ deflate: true }, { deflate: false });
    assertEquals(again.server.extensions, "");
    await closeBoth(again.client, again.server);
  });
  await t.step(
    "a window CompressionStream cannot keep is declined when it is given explicitly",
    async () => {
      const { server, client } = await pair({
        deflate: { engine: compressionStreamEngine() },
      }, { deflate: { serverMaxWindowBits: 10 } });
      assertEquals(server.extensions, "");
      assertEquals(client.extensions, "");
      await closeBoth(client, server);
    },
  );
});

Deno.test("deflate: refused for invalid options", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `ws://127.0.0.1:${listener.addr.port}/`;
  await assertRejects(() => dial(url, { deflate: { level: 12 } }), RangeError);
  const tcp = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  await assertRejects(
    () => accept(server, { deflate: { level: 12 } }),
    RangeError,
  );
  // accept closed the socket it was given.
  assertEquals(await tcp.read(new Uint8Array(16)), null);
  tcp.close();
  listener.close();
});

Deno.test("deflate: serve() and createNodeServer() take the option", async (t) => {
  const echo = async (conn: WebSocketConn) => {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  };
  const check = async (port: number) => {
    const client = await dial(`ws://127.0.0.1:${port}/`, { deflate: true });
    assertInstanceOf(client, PerMessageDeflateConn);
    await client.writeMessage(OpCode.Text, JSON_TEXT);
    const back = await client.readMessage();
    assertEquals(back.rsv, Rsv.Rsv1);
    assertEquals(dec(back.data), JSON_TEXT);
    await client.close();
  };
  await t.step("serve", async () => {
    await using server = serve(
      { hostname: "127.0.0.1", port: 0, deflate: true, onListen() {} },
      echo,
    );
    await check(server.addr.port);
  });
  await t.step("createNodeServer", async () => {
    const server = createNodeServer({
      fetch: () => new Response("page"),
      websocket: echo,
      deflate: { level: 1 },
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    const { port } = server.address() as { port: number };
    await check(port);
    await new Promise((resolve) => server.close(resolve));
  });
});

Deno.test("accept turns Nagle off on sockets that can", async () => {
  const calls: boolean[] = [];
  const request = enc(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const answer = new TransformStream<Uint8Array, Uint8Array>();
  const transport = {
    readable: new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(request);
      },
    }),
    writable: answer.writable,
    setNoDelay(on: boolean) {
      calls.push(on);
    },
  };
  const head = answer.readable.getReader().read();
  const conn = await accept(transport);
  assert(
    dec((await head).value!).startsWith("HTTP/1.1 101"),
  );
  assertEquals(calls, [true]);
  conn.abort();
});
