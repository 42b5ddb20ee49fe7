import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import {
  CloseError,
  Conn,
  OpCode,
  PreparedMessage,
  WebSocketError,
} from "../../mod.ts";
import { wrapDeflate } from "../../deflate.ts";
import { Rsv } from "../../src/codec/header.ts";
import { closeCodeOf, parseFrames, readToEnd, tcpPair } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

async function* failingAfter(
  chunks: number,
  size: number,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) yield new Uint8Array(size).fill(65 + i);
  throw new Error("disk gone");
}

const plain = (tcp: Deno.TcpConn) =>
  new Conn(tcp, { role: "server", chunkSize: 64 });
const compressed = (tcp: Deno.TcpConn) =>
  wrapDeflate(
    new Conn(tcp, {
      role: "server",
      chunkSize: 64,
      rsvAllowed: Rsv.Rsv1,
      extensions: "permessage-deflate",
    }),
  );

for (
  const [name, make] of [["plain", plain], ["deflate", compressed]] as const
) {
  Deno.test(`${name}: a stream that fails after its first fragment fails the connection with 1011, over TCP`, async () => {
    const tcp = await tcpPair();
    const server = make(tcp.server);
    const seen = readToEnd(tcp.client, 3_000);
    const err = await server
      .streamMessage(OpCode.Binary, failingAfter(3, 64))
      .catch((e) => e);
    assertEquals(err.message, "disk gone");
    assertEquals((await server.closed).code, 1011);
    await assertRejects(
      () => server.writeMessage(OpCode.Text, "after"),
      WebSocketError,
    );
    tcp.client.close();
    const frames = parseFrames((await seen).bytes);
    // Fragments without FIN, then the close frame: never a frame of another message.
    const close = frames.at(-1)!;
    assertEquals([close.opcode, closeCodeOf(close)], [OpCode.Close, 1011]);
    for (const f of frames.slice(0, -1)) {
      assertEquals(f.fin, false);
      assert(f.opcode === OpCode.Binary || f.opcode === OpCode.Continuation);
    }
  });

  Deno.test(`${name}: a stream that fails before any fragment leaves the connection usable`, async () => {
    const tcp = await tcpPair();
    const server = make(tcp.server);
    const client = new Conn(tcp.client, {
      role: "client",
      rsvAllowed: Rsv.Rsv1,
      extensions: name === "deflate" ? "permessage-deflate" : "",
    });
    const peer = name === "deflate" ? wrapDeflate(client) : client;
    await assertRejects(
      () => server.streamMessage(OpCode.Binary, failingAfter(0, 64)),
      Error,
      "disk gone",
    );
    await server.writeMessage(OpCode.Text, "still here");
    assertEquals(dec((await peer.readMessage()).data), "still here");
    await Promise.all([peer.close(), server.readMessage().catch(() => {})]);
  });

  Deno.test(`${name}: a fragment size above the chunk size is a RangeError`, async () => {
    const tcp = await tcpPair();
    const server = make(tcp.server);
    await assertRejects(
      () => server.streamMessage(OpCode.Binary, failingAfter(1, 1), 65),
      RangeError,
    );
    server.abort();
    tcp.client.close();
  });
}

Deno.test("writeMessage during a stream copies the caller's bytes: a reused buffer does not change what is sent", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  const client = new Conn(tcp.client, { role: "client" });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  async function* slow(): AsyncGenerator<Uint8Array> {
    yield enc("part one, ");
    await gate;
    yield enc("part two");
  }
  const streaming = server.streamMessage(OpCode.Text, slow(), 10);
  const buf = enc("hello");
  const queued = server.writeMessage(OpCode.Text, buf);
  buf.set(enc("XXXXX")); // the JSDoc says the bytes may be reused at once
  release();
  await Promise.all([streaming, queued]);
  assertEquals(dec((await client.readMessage()).data), "part one, part two");
  assertEquals(dec((await client.readMessage()).data), "hello");
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
});

Deno.test("writePrepared: a server sends the prepared bytes, a client masks a frame of its own", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  const client = new Conn(tcp.client, { role: "client" });
  const msg = new PreparedMessage(OpCode.Text, "shared");
  await server.writePrepared(msg);
  await client.writePrepared(msg);
  assertEquals(dec((await client.readMessage()).data), "shared");
  assertEquals(dec((await server.readMessage()).data), "shared");
  const ending = server.readMessage().catch((e) => e);
  await client.close();
  const end = await ending;
  assertInstanceOf(end, CloseError);
});
