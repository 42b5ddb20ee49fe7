/**
 * Streaming reads over loopback TCP: large messages through a small buffer
 * (plain and compressed, checked by SHA-256), the read limit and its raise,
 * UTF-8 checked piece by piece, control frames between fragments, frames read
 * in pieces, and the byte stream.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { createHash } from "node:crypto";
import {
  CloseCode,
  Conn,
  type ConnOptions,
  OpCode,
  Rsv,
  type WebSocketConn,
  WebSocketError,
} from "../../mod.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { connPair, tcpPair } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

const MiB = 1 << 20;

/** A deterministic, somewhat compressible byte stream of `total` bytes. */
async function* pattern(total: number, piece = 64 * 1024) {
  let seed = 12345;
  const words = ["alpha ", "beta ", "gamma ", "delta ", "epsilon "].map(enc);
  for (let sent = 0; sent < total;) {
    const chunk = new Uint8Array(Math.min(piece, total - sent));
    for (let i = 0; i < chunk.length;) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const w = words[seed % words.length];
      const n = Math.min(w.length, chunk.length - i);
      chunk.set(w.subarray(0, n), i);
      if ((seed & 0xf00) === 0 && i + n < chunk.length) {
        chunk[i + n] = seed & 0x7f;
        i++;
      }
      i += n;
    }
    sent += chunk.length;
    yield chunk;
  }
}

async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of source) hash.update(chunk);
  return hash.digest("hex");
}

async function deflatePair(
  engine: DeflateEngine,
  options: Partial<ConnOptions> = {},
): Promise<{ client: PerMessageDeflateConn; server: PerMessageDeflateConn }> {
  const tcp = await tcpPair();
  const base = (conn: Deno.Conn, role: "client" | "server") =>
    new Conn(conn, {
      role,
      rsvAllowed: Rsv.Rsv1,
      extensions: "permessage-deflate",
      closeTimeout: 1000,
      ...options,
    });
  return {
    client: new PerMessageDeflateConn(base(tcp.client, "client"), null, {
      engine,
    }),
    server: new PerMessageDeflateConn(base(tcp.server, "server"), null, {
      engine,
    }),
  };
}

/** Reads a message through `buf`, hashing it; returns the hash and its length. */
async function hashStreamed(
  conn: WebSocketConn,
  buf: Uint8Array,
  readLimit: number,
): Promise<{ hash: string; length: number; opcode: number }> {
  const msg = await conn.readMessageStream({ readLimit });
  const hash = createHash("sha256");
  let length = 0;
  for (let n; (n = await msg.read(buf)) !== null;) {
    assert(n > 0 && n <= buf.length);
    hash.update(buf.subarray(0, n));
    length += n;
  }
  return { hash: hash.digest("hex"), length, opcode: msg.opcode };
}

const BIG = 64 * MiB;

Deno.test("a 64 MiB message streams through a 4 KiB buffer, fragmented and whole", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  const expected = await sha256Of(pattern(BIG));
  const buf = new Uint8Array(4096);
  // Fragmented: 16,384 fragments of the 4 KiB chunk size.
  const sent = client.streamMessage(OpCode.Binary, pattern(BIG));
  const got = await hashStreamed(server, buf, 2 * BIG);
  await sent;
  assertEquals(got, { hash: expected, length: BIG, opcode: OpCode.Binary });
  // One 64 MiB frame.
  const whole = new Uint8Array(BIG);
  let at = 0;
  for await (const chunk of pattern(BIG)) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  const sentWhole = client.writeMessage(OpCode.Binary, whole);
  const gotWhole = await hashStreamed(server, buf, BIG);
  await sentWhole;
  assertEquals(gotWhole.hash, expected);
  // The connection reads whole messages again afterwards.
  await client.writeMessage(OpCode.Text, "after");
  assertEquals(dec((await server.readMessage()).data), "after");
  await Promise.all([client.close(), server.close()]);
});

for (const engine of [zlibEngine(), compressionStreamEngine()]) {
  Deno.test(`a 64 MiB compressed message inflates in pieces through a 4 KiB buffer (${engine.name})`, async () => {
    const { client, server } = await deflatePair(engine);
    const expected = await sha256Of(pattern(BIG));
    const sent = client.streamMessage(OpCode.Text, pattern(BIG));
    const got = await hashStreamed(server, new Uint8Array(4096), BIG);
    await sent;
    assertEquals(got, { hash: expected, length: BIG, opcode: OpCode.Text });
    await client.writeMessage(OpCode.Text, "x".repeat(1000));
    assertEquals((await server.readMessage()).data.length, 1000);
    await Promise.all([client.close(), server.close()]);
  });
}

Deno.test("64 MiB of zeros (about 1:1000 compressed) inflate in pieces without holding the message", async () => {
  const { client, server } = await deflatePair(zlibEngine());
  // About 64 KiB on the wire: it fits the socket buffers, so the sender (whose
  // compressor holds an output buffer the size of the message) is done first.
  await client.writeMessage(OpCode.Binary, new Uint8Array(BIG));
  await client.flush();
  const before = Deno.memoryUsage().external;
  const msg = await server.readMessageStream({ readLimit: BIG });
  assert((msg.rsv & Rsv.Rsv1) !== 0);
  const buf = new Uint8Array(4096);
  let length = 0, nonZero = 0, most = 0;
  for (let n; (n = await msg.read(buf)) !== null;) {
    length += n;
    for (let i = 0; i < n; i++) nonZero |= buf[i];
    most = Math.max(most, Deno.memoryUsage().external - before);
  }
  assertEquals([length, nonZero], [BIG, 0]);
  // Far below the message: the pieces' buffers, not the message, were held.
  assert(most < 16 * MiB, `${most} bytes more external memory while reading`);
  await Promise.all([client.close(), server.close()]);
});

Deno.test("the read limit applies to a stream unless raised for it (1009)", async () => {
  const { client, server } = await connPair({
    readLimit: MiB,
    closeTimeout: 1000,
  });
  const sent = client.streamMessage(OpCode.Binary, pattern(2 * MiB));
  const msg = await server.readMessageStream();
  const buf = new Uint8Array(4096);
  const err = await assertRejects(async () => {
    while ((await msg.read(buf)) !== null) { /* read on */ }
  }, WebSocketError);
  assertEquals(err.code, "message_too_big");
  await sent.catch(() => {});
  assertEquals((await server.closed).code, CloseCode.MessageTooBig);
  await client.close();
});

Deno.test("a compressed stream's inflated size is bounded by the read limit (1009)", async () => {
  const { client, server } = await deflatePair(zlibEngine(), {
    readLimit: MiB,
  });
  // Zeros compress about 1000:1: a few KiB on the wire, 8 MiB inflated.
  const zeros = new Uint8Array(8 * MiB);
  const sent = client.writeMessage(OpCode.Binary, zeros);
  const msg = await server.readMessageStream();
  assert((msg.rsv & Rsv.Rsv1) !== 0);
  const err = await assertRejects(async () => {
    const buf = new Uint8Array(4096);
    while ((await msg.read(buf)) !== null) { /* read on */ }
  }, WebSocketError);
  assertEquals(err.code, "message_too_big");
  await sent.catch(() => {});
  assertEquals((await server.closed).code, CloseCode.MessageTooBig);
  await client.close();
});

Deno.test("text is checked as UTF-8 piece by piece: split characters pass, a bad byte fails with 1007", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  const text = enc("€uro ✓ 𝄞");
  // Fragments that cut every character, read through a 1-byte buffer.
  for (let i = 0; i < text.length; i++) {
    await client.writeFrame(
      i === text.length - 1,
      0,
      i === 0 ? OpCode.Text : OpCode.Continuation,
      text.subarray(i, i + 1),
    );
  }
  const msg = await server.readMessageStream();
  const one = new Uint8Array(1);
  const got: number[] = [];
  while ((await msg.read(one)) !== null) got.push(one[0]);
  assertEquals(dec(new Uint8Array(got)), "€uro ✓ 𝄞");
  // Then an invalid byte in the second fragment.
  await client.writeFrame(false, 0, OpCode.Text, enc("valid "));
  await client.writeFrame(true, 0, OpCode.Continuation, new Uint8Array([0xff]));
  const bad = await server.readMessageStream();
  const err = await assertRejects(async () => {
    while ((await bad.read(new Uint8Array(64))) !== null) { /* read on */ }
  }, WebSocketError);
  assertEquals(err.code, "invalid_utf8");
  assertEquals((await server.closed).code, CloseCode.InvalidFramePayloadData);
  await client.close();
});

Deno.test("control frames between a streamed message's fragments are answered", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  let pongs = 0;
  client.onPong = (payload) => {
    if (dec(payload) === "mid") pongs++;
  };
  const clientReads = client.readMessage().catch((e) => e);
  await client.writeFrame(false, 0, OpCode.Binary, new Uint8Array(10_000));
  await client.ping(enc("mid"));
  await client.writeFrame(true, 0, OpCode.Continuation, new Uint8Array(5_000));
  const msg = await server.readMessageStream();
  let length = 0;
  for (let n; (n = await msg.read(new Uint8Array(4096))) !== null;) {
    length += n;
  }
  assertEquals(length, 15_000);
  await server.writeMessage(OpCode.Text, "done");
  assertEquals(dec((await clientReads).data), "done");
  assertEquals(pongs, 1);
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a message as a ReadableStream: BYOB and default readers, cancel discards the rest", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  const payload = new Uint8Array(100_000).map((_, i) => i & 0xff);
  await client.writeMessage(OpCode.Binary, payload);
  const msg = await server.readMessageStream();
  const reader = msg.readable.getReader({ mode: "byob" });
  const got: Uint8Array[] = [];
  let buf = new Uint8Array(4096);
  for (;;) {
    const r = await reader.read(buf);
    if (r.done) break;
    got.push(r.value.slice());
    buf = new Uint8Array(r.value.buffer);
  }
  const joined = new Uint8Array(got.reduce((n, c) => n + c.length, 0));
  got.reduce((at, c) => (joined.set(c, at), at + c.length), 0);
  assertEquals(joined, payload);
  // Default reader, cancelled halfway: the next message still reads.
  await client.writeMessage(OpCode.Binary, payload);
  await client.writeMessage(OpCode.Text, "next");
  const second = await server.readMessageStream();
  const chunks = second.readable.getReader();
  const first = await chunks.read();
  assert(!first.done && first.value.length > 0);
  await chunks.cancel();
  assertEquals(dec((await server.readMessage()).data), "next");
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a frame larger than the buffer is read in pieces with readPayloadPart", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  const payload = new Uint8Array(50_000).map((_, i) => (i * 7) & 0xff);
  await client.writeMessage(OpCode.Binary, payload);
  const h = await server.readHeader();
  assertEquals(h.length, 50_000);
  const buf = new Uint8Array(1000);
  const got = new Uint8Array(h.length);
  let at = 0;
  for (let n; (n = await server.readPayloadPart(buf)) !== null;) {
    got.set(buf.subarray(0, n), at);
    at += n;
  }
  assertEquals(got, payload);
  await client.ping();
  const ping = await server.readHeader();
  assertEquals(ping.opcode, OpCode.Ping);
  await assertRejects(() => server.readPayloadPart(buf), TypeError);
  await Promise.all([client.close(), server.close()]);
});

Deno.test("two reads of one streamed message at once: the second is refused", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await client.writeFrame(false, 0, OpCode.Binary, new Uint8Array(10));
  const msg = await server.readMessageStream();
  assertEquals(await msg.read(new Uint8Array(64)), 10);
  const first = msg.read(new Uint8Array(64));
  await assertRejects(() => msg.read(new Uint8Array(64)), TypeError);
  await client.writeFrame(true, 0, OpCode.Continuation, new Uint8Array(5));
  assertEquals(await first, 5);
  assertEquals(await msg.read(new Uint8Array(64)), null);
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a stream's read limit must be a positive integer; the connection stays usable", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await assertRejects(
    () => server.readMessageStream({ readLimit: 0 }),
    RangeError,
  );
  await client.writeMessage(OpCode.Text, "still here");
  assertEquals(dec((await server.readMessage()).data), "still here");
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a finished stream reads null and no longer touches the connection", async () => {
  const { client, server } = await connPair({ closeTimeout: 1000 });
  await client.writeMessage(OpCode.Text, "one");
  await client.writeMessage(OpCode.Text, "two");
  const msg = await server.readMessageStream();
  const buf = new Uint8Array(16);
  await assertRejects(() => msg.read(new Uint8Array(0)), RangeError);
  assertEquals(await msg.read(buf), 3);
  assertEquals(await msg.read(buf), null);
  assertEquals(await msg.read(buf), null);
  const next = await server.readMessage();
  assertInstanceOf(next.data, Uint8Array);
  assertEquals(dec(next.data), "two");
  await Promise.all([client.close(), server.close()]);
});
