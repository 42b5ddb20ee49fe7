/**
 * Backpressure over loopback TCP, both ways: a peer that stops reading makes our
 * writers wait or be refused past the write buffer limit, with `bufferedAmount`
 * telling how much waits; and a slow reader on our side makes the peer wait,
 * with no more than one read buffer of unread bytes taken from the socket.
 */

import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { Conn, OpCode, WebSocketError } from "../../mod.ts";
import { frame, parseFrames, readToEnd, tcpPair } from "../_pair.ts";

/** Settles within `ms`, or tells that it did not. */
async function settlesWithin(
  p: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true, () => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A `Deno.Conn` stand-in that counts the bytes taken from the socket. */
class Counting {
  taken = 0;
  constructor(readonly conn: Deno.Conn) {}
  get readable() {
    return this.conn.readable;
  }
  get writable() {
    return this.conn.writable;
  }
  async read(p: Uint8Array): Promise<number | null> {
    const n = await this.conn.read(p);
    if (n !== null) this.taken += n;
    return n;
  }
  write(p: Uint8Array): Promise<number> {
    return this.conn.write(p);
  }
  close(): void {
    this.conn.close();
  }
}

Deno.test("bufferedAmount counts what waits for a stalled peer, refuses past the limit, and drains to 0", async () => {
  const tcp = await tcpPair();
  // More than the kernel's loopback buffers (a few MiB) take.
  const limit = 16 << 20;
  const size = 256 * 1024;
  const server = new Conn(tcp.server, {
    role: "server",
    writeBufferLimit: limit,
  });
  assertEquals(server.bufferedAmount, 0);
  const writes = Array.from({ length: 100 }, (_, i) => {
    const payload = new Uint8Array(size).fill(i & 0xff);
    return server.writeMessage(OpCode.Binary, payload).then(
      () => i,
      (err) => err,
    );
  });
  // The peer reads nothing: the kernel buffers fill, then ours.
  await new Promise((r) => setTimeout(r, 200));
  const waiting = server.bufferedAmount;
  assert(waiting > 0, "bytes wait");
  assert(waiting <= limit + 2 * size, `${waiting} bytes wait, over the limit`);
  // Now the peer reads: everything accepted goes out, and the count drains.
  // A reader that gives up (a very busy machine) aborts the server, so the
  // writes still pending settle and the assertions below fail instead of hanging.
  const reading = readToEnd(tcp.client, 60_000).finally(() => server.abort());
  const results = await Promise.all(writes);
  await server.flush();
  assertEquals(server.bufferedAmount, 0);
  const refused = results.filter((r) => r instanceof WebSocketError);
  const accepted = results.filter((r): r is number => typeof r === "number");
  assert(refused.length > 0 && accepted.length > 0);
  for (const err of refused) {
    assertEquals([err.code, err.closeCode], ["write_buffer_full", 1013]);
  }
  server.abort();
  const frames = parseFrames((await reading).bytes);
  // Exactly the accepted messages arrive, whole and in order.
  assertEquals(frames.map((f) => f.payload[0]), accepted.map((i) => i & 0xff));
  assert(frames.every((f) => f.payload.length === size));
  tcp.client.close();
});

Deno.test("a writer that awaits each write never has more than about one message waiting", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  const size = 256 * 1024;
  const payload = new Uint8Array(size);
  let most = 0;
  // A slow peer: 16 KiB every few ms.
  let stop = false;
  const peer = (async () => {
    const buf = new Uint8Array(16 * 1024);
    let total = 0;
    while (!stop) {
      const n = await tcp.client.read(buf).catch(() => null);
      if (n === null) break;
      total += n;
      await new Promise((r) => setTimeout(r, 2));
    }
    return total;
  })();
  for (let i = 0; i < 40; i++) {
    const write = server.writeMessage(OpCode.Binary, payload);
    most = Math.max(most, server.bufferedAmount);
    await write;
  }
  await server.flush();
  assert(most <= size + server.chunkSize + 14, `${most} bytes waited`);
  assertEquals(server.bufferedAmount, 0);
  stop = true;
  server.abort();
  assert(await peer > 0);
  tcp.client.close();
});

Deno.test("a reader that stops makes the peer's writes wait, holding at most one read buffer unread", async () => {
  const tcp = await tcpPair();
  const counting = new Counting(tcp.server);
  const chunkSize = 4096;
  const server = new Conn(counting, { role: "server", chunkSize });
  const message = frame(0x82, new Uint8Array(1000).fill(7));
  const perFrame = message.length;
  // The peer writes whole frames as fast as it can; we read one, then stop.
  let written = 0;
  const writeFrame = async () => {
    for (let n = 0; n < perFrame;) {
      const k = await tcp.client.write(message.subarray(n));
      n += k;
      written += k;
    }
  };
  const first = server.readMessage();
  let blocked: Promise<void> | null = null;
  for (let i = 0; i < 100_000 && blocked === null; i++) {
    const write = writeFrame();
    if (!await settlesWithin(write, 300)) blocked = write;
  }
  assert(blocked !== null, "the peer's write waits for us");
  assertEquals((await first).data.length, 1000);
  // Everything else sits in the kernel's buffers, not in ours.
  assert(
    counting.taken - perFrame <= chunkSize,
    `${counting.taken - perFrame} unread bytes taken from the socket`,
  );
  assert(written > 10 * chunkSize, "the kernel buffered the rest");
  // Reading again lets the peer go on, and no byte is lost.
  const frames = Math.floor(written / perFrame) + 1;
  let read = 1;
  const reader = async () => {
    for (; read < frames; read++) {
      const msg = await server.readMessage();
      assertEquals(msg.data.length, 1000);
      assertEquals(msg.data[999], 7);
    }
  };
  await Promise.all([reader(), blocked]);
  assertEquals(read * perFrame, written);
  assertEquals(counting.taken, written);
  server.abort();
  tcp.client.close();
});

Deno.test("a write refused past the limit leaves the connection usable", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, {
    role: "server",
    writeBufferLimit: 100 * 1024,
  });
  const big = new Uint8Array(48 * 1024);
  const first = server.writeMessage(OpCode.Binary, big);
  const second = server.writeMessage(OpCode.Binary, big);
  const third = await server.writeMessage(OpCode.Binary, big).catch((e) => e);
  // Only when something already waits is a write refused.
  assertInstanceOf(third, WebSocketError);
  assertEquals(third.code, "write_buffer_full");
  const reading = readToEnd(tcp.client, 3000);
  await Promise.all([first, second]);
  await server.writeMessage(OpCode.Text, "after");
  await server.flush();
  server.abort();
  const frames = parseFrames((await reading).bytes);
  assertEquals(frames.map((f) => f.payload.length), [
    big.length,
    big.length,
    5,
  ]);
  tcp.client.close();
});
