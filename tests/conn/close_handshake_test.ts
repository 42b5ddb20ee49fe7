import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { CloseCode, CloseError, OpCode, WebSocketError } from "../../mod.ts";
import { Conn } from "../../src/conn/conn.ts";
import {
  closeCodeOf,
  memoryConnPair,
  memoryTransportPair,
  parseFrames,
  readStreamToEnd,
  tcpPair,
} from "../_pair.ts";

/** One connection on an in-memory pipe, its peer played by hand. */
function onePeer(role: "client" | "server", closeTimeout = 5_000) {
  const { client, server } = memoryTransportPair();
  const [ours, peer] = role === "client" ? [client, server] : [server, client];
  return { conn: new Conn(ours, { role, closeTimeout }), peer };
}
import { closePayload, encodeFrame } from "../_wire.ts";

Deno.test("close(): both sides report the code and reason the initiator sent", async () => {
  const { client, server } = memoryConnPair();
  const read = server.readMessage().catch((err) => err);
  await client.close(CloseCode.GoingAway, "bye");
  const err = await read;
  assertInstanceOf(err, CloseError);
  assertEquals([err.code, err.reason], [1001, "bye"]);
  // Each side reports the peer's close frame: the echo carries the code only.
  assertEquals(await server.closed, { code: 1001, reason: "bye" });
  assertEquals(await client.closed, { code: 1001, reason: "" });
});

Deno.test("close(): a peer that never answers is dropped after closeTimeout, as 1006", async () => {
  const { conn: client, peer } = onePeer("client", 50);
  // The peer reads but never answers.
  const seen = readStreamToEnd(peer, 2_000);
  const started = performance.now();
  await client.close(CloseCode.NormalClosure, "done");
  assertEquals((await client.closed).code, CloseCode.AbnormalClosure);
  const frames = parseFrames((await seen).bytes);
  assertEquals(frames.map((f) => f.opcode), [OpCode.Close]);
  assertEquals(closeCodeOf(frames[0]), 1000);
  // Bounded by the timeout, not by anything else: well under a second.
  assertEquals(performance.now() - started < 1_000, true);
});

Deno.test("close(): invalid codes and long reasons are refused before anything is sent", async () => {
  const { client, server } = memoryConnPair();
  await assertRejects(
    () => client.close(1005),
    RangeError,
    "Invalid close code",
  );
  await assertRejects(
    () => client.close(1000, "x".repeat(124)),
    RangeError,
    "123 bytes",
  );
  const read = server.readMessage().catch((err) => err);
  await client.close(1000, "x".repeat(123));
  assertEquals((await read).reason, "x".repeat(123));
});

Deno.test("a failure is sticky: the close frame goes once and every read rejects with it", async () => {
  const { conn: client, peer } = onePeer("client");
  const writer = peer.writable.getWriter();
  const seen = readStreamToEnd(peer, 2_000);
  // A server frame that is masked: the client must fail with 1002.
  await writer.write(
    encodeFrame({ opcode: OpCode.Text, payload: "x", mask: true }),
  );
  const first = await client.readMessage().catch((err) => err);
  assertInstanceOf(first, WebSocketError);
  assertEquals([first.code, first.closeCode], ["masked_frame", 1002]);
  assertEquals(await client.readMessage().catch((err) => err), first);
  await assertRejects(
    () => client.writeMessage(OpCode.Text, "late"),
    WebSocketError,
    "closing",
  );
  assertEquals((await client.closed).code, 1002);
  writer.releaseLock();
  peer.close();
  const frames = parseFrames((await seen).bytes);
  assertEquals(frames.map((f) => closeCodeOf(f)), [1002]);
});

Deno.test("a close frame read by readFrame is answered by close() at once, and both sides see the peer's code", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 5_000 });
  const client = new Conn(tcp.client, { role: "client", closeTimeout: 5_000 });
  const buf = new Uint8Array(125);
  const closing = client.close(4001, "app done");
  const frame = await server.readFrame(buf);
  assertEquals(frame.header.opcode, OpCode.Close);
  const started = performance.now();
  await Promise.all([server.close(), closing]);
  // Answered, not timed out: far below the 5 s close timeout.
  assertEquals(performance.now() - started < 2_000, true);
  // close() without a code echoes the peer's.
  assertEquals(await server.closed, { code: 4001, reason: "app done" });
  assertEquals(await client.closed, { code: 4001, reason: "" });
  const after = await server.readMessage().catch((err) => err);
  assertInstanceOf(after, CloseError);
  assertEquals(after.code, 4001);
});

Deno.test("an invalid close frame read by readFrame fails the connection with 1002", async () => {
  const { conn: server, peer } = onePeer("server");
  const writer = peer.writable.getWriter();
  const seen = readStreamToEnd(peer, 2_000);
  await writer.write(
    encodeFrame({
      opcode: OpCode.Close,
      payload: closePayload(1005, ""),
      mask: true,
    }),
  );
  await assertRejects(
    () => server.readFrame(new Uint8Array(125)),
    WebSocketError,
    "Invalid close code",
  );
  assertEquals((await server.closed).code, 1002);
  writer.releaseLock();
  peer.close();
  assertEquals(parseFrames((await seen).bytes).map((f) => closeCodeOf(f)), [
    1002,
  ]);
});

Deno.test("closed: made when first asked, before or after the end, and the same promise every time", async () => {
  const { client, server } = memoryConnPair();
  const early = client.closed;
  client.abort();
  server.abort();
  assertStrictEquals(client.closed, early);
  assertEquals((await early).code, CloseCode.AbnormalClosure);
  const late = server.closed;
  assertStrictEquals(server.closed, late);
  assertEquals(await late, { code: CloseCode.AbnormalClosure, reason: "" });
});
