import { assertEquals, assertStrictEquals } from "@std/assert";
import { OpCode } from "../../mod.ts";
import { ForwardingConn } from "../../src/conn/forwarding_conn.ts";
import { memoryConnPair } from "../_pair.ts";
import { dec } from "../_wire.ts";

Deno.test("ForwardingConn passes every member through to the connection it wraps", async () => {
  const { client, server } = memoryConnPair({
    chunkSize: 1024,
    readLimit: 5000,
  });
  const wrapped = new ForwardingConn(server);
  assertEquals(
    [
      wrapped.role,
      wrapped.protocol,
      wrapped.extensions,
      wrapped.readLimit,
      wrapped.chunkSize,
    ],
    ["server", "", "", 5000, 1024],
  );
  assertStrictEquals(wrapped.closed, server.closed);
  const pongs: string[] = [];
  wrapped.onPong = (p) => pongs.push(dec(p));
  assertStrictEquals(server.onPong, wrapped.onPong);
  const onPing = () => {};
  wrapped.onPing = onPing;
  assertStrictEquals(server.onPing, onPing);
  wrapped.onPing = undefined;
  await client.writeMessage(OpCode.Text, "one");
  await client.writeMessage(OpCode.Binary, new Uint8Array([1, 2]));
  const frame = await wrapped.readFrame(new Uint8Array(16));
  assertEquals([frame.header.opcode, dec(frame.payload)], [OpCode.Text, "one"]);
  for await (const msg of wrapped) {
    assertEquals([msg.opcode, [...msg.data]], [OpCode.Binary, [1, 2]]);
    break;
  }
  await wrapped.writeMessage(OpCode.Text, "back");
  await wrapped.ping(new Uint8Array([7]));
  await wrapped.writeFrame(true, 0, OpCode.Pong, new Uint8Array(0));
  await wrapped.flush();
  assertEquals(wrapped.bufferedAmount, 0);
  client.onPing = () => {};
  const got: string[] = [];
  client.onPong = () => got.push("pong");
  assertEquals(dec((await client.readMessage()).data), "back");
  await client.writeFrame(true, 0, OpCode.Pong, new TextEncoder().encode("p"));
  const reading = wrapped.readMessage().catch((e) => e);
  await client.close();
  await reading;
  assertEquals(pongs, ["p"]);
  await wrapped.close();
  assertEquals((await wrapped.closed).code, 1000);
});

Deno.test("ForwardingConn passes streamed reads, payload pieces and operation options through", async () => {
  const { client, server } = memoryConnPair();
  const wrapped = new ForwardingConn(server);
  await client.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3, 4, 5]));
  const msg = await wrapped.readMessageStream();
  const buf = new Uint8Array(3);
  assertEquals(await msg.read(buf), 3);
  assertEquals(await msg.read(buf), 2);
  assertEquals(await msg.read(buf), null);
  await client.writeMessage(OpCode.Binary, new Uint8Array([9, 8, 7]));
  await wrapped.readHeader();
  assertEquals(await wrapped.readPayloadPart(new Uint8Array(2)), 2);
  assertEquals(await wrapped.readPayloadPart(new Uint8Array(2)), 1);
  assertEquals(await wrapped.readPayloadPart(new Uint8Array(2)), null);
  // An aborted signal reaches the wrapped connection: the read is refused.
  const aborted = AbortSignal.abort(new Error("no"));
  const err = await wrapped.readMessage(undefined, { signal: aborted }).catch((
    e,
  ) => e);
  assertEquals(err.message, "no");
  const refused = await wrapped.writeMessage(OpCode.Text, "x", {
    signal: aborted,
  }).catch((e) => e);
  assertEquals(refused.message, "no");
  await Promise.all([client.close(), wrapped.close()]);
});
