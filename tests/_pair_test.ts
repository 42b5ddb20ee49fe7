/**
 * The in-memory pair behaves like a socket: bytes in order both ways, writes
 * that wait for a slow reader, the end of stream on close.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { CloseError, OpCode } from "../mod.ts";
import { memoryConnPair, memoryTransportPair } from "./_pair.ts";
import { closeCodeOf, dec, encodeFrame, Op, parseFrames } from "./_wire.ts";

Deno.test("memoryConnPair: messages both ways, then a clean close", async () => {
  const { client, server, transports } = memoryConnPair();
  await client.writeMessage(OpCode.Text, "ping");
  assertEquals(dec((await server.readMessage()).data), "ping");
  const big = new Uint8Array(300_000).map((_, i) => i);
  const [, got] = await Promise.all([
    server.writeMessage(OpCode.Binary, big),
    client.readMessage(),
  ]);
  assertEquals(got.data, big);
  await Promise.all([client.close(), server.close()]);
  assertEquals((await client.closed).code, 1000);
  assert(transports.client.closed && transports.server.closed);
});

Deno.test("memoryConnPair: BYOB reads and per-side options", async () => {
  const { client, server } = memoryConnPair(
    { read: "byob" },
    { readLimit: 10 },
  );
  await client.writeMessage(OpCode.Text, "0123456789abc");
  await assertRejects(() => server.readMessage());
  await assertRejects(() => client.readMessage(), CloseError);
  assertEquals((await client.closed).code, 1009);
});

Deno.test("memoryTransportPair: a raw peer writes frames and reads replies", async () => {
  const { client, server } = memoryTransportPair(16);
  const writer = client.writable.getWriter();
  const reader = server.readable.getReader();
  // Writes wait while 16 bytes sit unread, so read while writing.
  const wrote = writer.write(
    encodeFrame({ opcode: Op.Close, payload: new Uint8Array([3, 232]) }),
  );
  const wrote2 = writer.write(encodeFrame({ opcode: Op.Ping, payload: "x" }));
  const bytes: number[] = [];
  while (bytes.length < 7) {
    const { value } = await reader.read();
    bytes.push(...value!);
  }
  await Promise.all([wrote, wrote2]);
  const frames = parseFrames(new Uint8Array(bytes));
  assertEquals(closeCodeOf(frames[0]), 1000);
  assertEquals(frames[1].opcode, Op.Ping);
  client.close();
  assertEquals((await reader.read()).done, true);
  await assertRejects(() =>
    server.writable.getWriter().write(new Uint8Array(1))
  );
});
