import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertNotEquals,
  assertRejects,
} from "@std/assert";
import {
  CloseError,
  Conn,
  type ConnOptions,
  OpCode,
  ReadLimit,
  WebSocketError,
} from "../../mod.ts";
import {
  closeCodeOf,
  connPair,
  frame,
  memoryConnPair,
  memoryTransportPair,
  parseFrames,
  type RawFrame,
  readToEnd,
  tcpPair,
} from "../_pair.ts";
import { rawPair } from "../_raw_peer.ts";
import { dec, enc } from "../_wire.ts";

/**
 * An in-memory pair whose pipes hold 4 MiB unread, for a test that writes a
 * megabyte before the peer reads (a socket's kernel buffers take that much).
 */
function bigPipeConnPair(options: Partial<ConnOptions>) {
  const { client, server } = memoryTransportPair(4 << 20);
  return {
    client: new Conn(client, { ...options, role: "client" }),
    server: new Conn(server, { ...options, role: "server" }),
  };
}

function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * seed + (i >> 8)) & 0xff;
  return out;
}

async function* chunksOf(sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const n of sizes) yield pattern(n);
}

interface Outcome {
  frames: RawFrame[];
  ended: boolean;
  error: unknown;
}

/** Runs an echo server Conn against a raw client that writes `input` as is. */
async function againstServer(
  input: Uint8Array[],
  options: Partial<ConnOptions> = {},
  waitMs = 3000,
): Promise<Outcome> {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server", ...options });
  const loop = (async () => {
    try {
      for (;;) {
        const m = await server.readMessage();
        await server.writeMessage(m.opcode, m.data);
      }
    } catch (err) {
      return err;
    }
  })();
  for (const bytes of input) await peer.write(bytes).catch(() => {});
  const { bytes, ended } = await readToEnd(peer, waitMs);
  peer.close();
  const error = await loop;
  await server.closed;
  return { frames: parseFrames(bytes), ended, error };
}

const TEXT = 0x81, BINARY = 0x82, PING = 0x89, CLOSE = 0x88;

const PROTOCOL_ERRORS: [string, Uint8Array[], number, string][] = [
  [
    "an unmasked client frame",
    [frame(TEXT, "hi", null)],
    1002,
    "unmasked_frame",
  ],
  [
    "RSV1 without an extension",
    [frame(TEXT | 0x40, "hi")],
    1002,
    "reserved_bits",
  ],
  ["RSV2 on a ping", [frame(PING | 0x20, "")], 1002, "reserved_bits"],
  [
    "RSV3 on a binary frame",
    [frame(BINARY | 0x10, "x")],
    1002,
    "reserved_bits",
  ],
  ["reserved data opcode 3", [frame(0x83, "")], 1002, "invalid_opcode"],
  ["reserved control opcode 0xB", [frame(0x8b, "")], 1002, "invalid_opcode"],
  ["a fragmented ping", [frame(0x09, "p")], 1002, "control_fragmented"],
  [
    "a 126-byte ping",
    [frame(PING, new Uint8Array(126))],
    1002,
    "control_too_large",
  ],
  [
    "a continuation without a start",
    [frame(0x80, "x")],
    1002,
    "unexpected_continuation",
  ],
  [
    "a new text frame inside a fragmented message",
    [frame(0x01, "a"), frame(TEXT, "b")],
    1002,
    "expected_continuation",
  ],
  [
    "a 64-bit length with the top bit set",
    [new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])],
    1002,
    "invalid_length",
  ],
  [
    "invalid UTF-8 in a text message",
    [frame(TEXT, new Uint8Array([0xce, 0xba, 0xed, 0xa0, 0x80]))],
    1007,
    "invalid_utf8",
  ],
  [
    "invalid UTF-8 across fragments",
    [
      frame(0x01, new Uint8Array([0xf0, 0x9f])),
      frame(0x80, new Uint8Array([0x41])),
    ],
    1007,
    "invalid_utf8",
  ],
  [
    "text ending inside a character",
    [frame(TEXT, new Uint8Array([0x41, 0xe2, 0x82]))],
    1007,
    "invalid_utf8",
  ],
  [
    "a 1-byte close payload",
    [frame(CLOSE, new Uint8Array([3]))],
    1002,
    "invalid_close_payload",
  ],
  [
    "close code 1005 on the wire",
    [frame(CLOSE, new Uint8Array([0x03, 0xed]))],
    1002,
    "invalid_close_code",
  ],
  [
    "close code 999",
    [frame(CLOSE, new Uint8Array([0x03, 0xe7]))],
    1002,
    "invalid_close_code",
  ],
  [
    "close code 1015",
    [frame(CLOSE, new Uint8Array([0x03, 0xf7]))],
    1002,
    "invalid_close_code",
  ],
  [
    "close code 2000",
    [frame(CLOSE, new Uint8Array([0x07, 0xd0]))],
    1002,
    "invalid_close_code",
  ],
  [
    "a close reason that is not UTF-8",
    [frame(CLOSE, new Uint8Array([0x03, 0xe8, 0xff]))],
    1007,
    "invalid_utf8",
  ],
];

for (const [name, input, code, errorCode] of PROTOCOL_ERRORS) {
  Deno.test(`server answers ${name} with close ${code} and drops the connection`, async () => {
    const out = await againstServer(input);
    const last = out.frames.at(-1);
    assertEquals(closeCodeOf(last), code);
    assert(out.ended, "connection closed");
    assertInstanceOf(out.error, WebSocketError);
    assertEquals((out.error as WebSocketError).code, errorCode);
    assertEquals((out.error as WebSocketError).closeCode, code);
  });
}

Deno.test("server refuses a message over the read limit with 1009 before its payload arrives", async () => {
  // Only the header is sent: the refusal must not wait for the 2 KiB payload.
  const header = frame(BINARY, new Uint8Array(2048)).subarray(0, 8);
  const out = await againstServer([header], { readLimit: 1024 });
  assertEquals(closeCodeOf(out.frames.at(-1)), 1009);
  assertInstanceOf(out.error, WebSocketError);
  assertEquals((out.error as WebSocketError).code, "message_too_big");
});

Deno.test("server counts fragments towards the read limit", async () => {
  const parts = [
    frame(0x02, new Uint8Array(600)),
    frame(0x80, new Uint8Array(600)),
  ];
  const out = await againstServer(parts, { readLimit: 1000 });
  assertEquals(closeCodeOf(out.frames.at(-1)), 1009);
});

Deno.test("server enforces maxFragments with 1009", async () => {
  const parts = [
    frame(0x02, "a"),
    frame(0x00, "b"),
    frame(0x00, "c"),
    frame(0x80, "d"),
  ];
  const out = await againstServer(parts, { maxFragments: 3 });
  assertEquals(closeCodeOf(out.frames.at(-1)), 1009);
  assertInstanceOf(out.error, WebSocketError);
  assertEquals((out.error as WebSocketError).code, "too_many_fragments");
});

Deno.test("server fails fast on invalid UTF-8 before the rest of a large text frame", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server" });
  const failed = server.readMessage().catch((err) => err);
  // Header of a 512 KiB text frame, then just 8 payload bytes with a bad byte.
  const whole = frame(TEXT, new Uint8Array(512 * 1024).fill(0x41));
  const headerLength = 2 + 8 + 4;
  const key = whole.subarray(headerLength - 4, headerLength);
  const prefix = new Uint8Array([
    0x41,
    0x41,
    0x41,
    0xc0,
    0x41,
    0x41,
    0x41,
    0x41,
  ]);
  for (let i = 0; i < prefix.length; i++) prefix[i] ^= key[i & 3];
  await peer.write(whole.subarray(0, headerLength));
  await peer.write(prefix);
  const err = await failed;
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.closeCode, 1007);
  const { bytes } = await readToEnd(peer, 2000);
  assertEquals(closeCodeOf(parseFrames(bytes)[0]), 1007);
  peer.close();
});

Deno.test("server echoes a valid close code and closes the connection", async () => {
  for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]) {
    const payload = new Uint8Array([code >> 8, code & 0xff, ...enc("bye")]);
    const out = await againstServer([frame(CLOSE, payload)]);
    assertEquals(closeCodeOf(out.frames[0]), code);
    assert(out.ended);
    assertInstanceOf(out.error, CloseError);
    const error = out.error as CloseError;
    assertEquals([error.code, error.reason], [code, "bye"]);
  }
});

Deno.test("server answers an empty close frame with an empty close frame", async () => {
  const out = await againstServer([frame(CLOSE, new Uint8Array(0))]);
  assertEquals(out.frames.length, 1);
  assertEquals([out.frames[0].opcode, out.frames[0].payload.length], [8, 0]);
  assertInstanceOf(out.error, CloseError);
  assertEquals((out.error as CloseError).code, 1005);
});

Deno.test("server ignores data after the close frame", async () => {
  const out = await againstServer([
    frame(TEXT, "before"),
    frame(CLOSE, new Uint8Array([0x03, 0xe8])),
    frame(TEXT, "after"),
  ]);
  assertEquals(out.frames.map((f) => f.opcode), [1, 8]);
  assertEquals(dec(out.frames[0].payload), "before");
});

Deno.test("server answers pings between fragments and reassembles the message", async () => {
  const out = await againstServer([
    frame(0x01, "He"),
    frame(PING, "p1"),
    frame(0x00, "l"),
    frame(0x8a, "unsolicited pong"),
    frame(PING, "p2"),
    frame(0x80, "lo"),
    frame(CLOSE, new Uint8Array([0x03, 0xe8])),
  ]);
  const kinds = out.frames.map((f) => [f.opcode, dec(f.payload)]);
  assertEquals(kinds.slice(0, 3), [[0xa, "p1"], [0xa, "p2"], [0x1, "Hello"]]);
  assert(out.frames.every((f) => !f.masked && f.rsv === 0));
});

Deno.test("server echoes every payload-length form, in 1-byte writes too", async () => {
  for (const size of [0, 1, 125, 126, 127, 1000, 65535, 65536, 100_000]) {
    const data = pattern(size);
    const bytes = frame(BINARY, data);
    const pieces = size <= 1000
      ? Array.from(bytes, (b) => new Uint8Array([b]))
      : [bytes];
    const out = await againstServer(
      [...pieces, frame(CLOSE, new Uint8Array([0x03, 0xe8]))],
    );
    assertEquals(out.frames[0].payload, data, `size ${size}`);
    assertEquals(out.frames[0].opcode, 2);
  }
});

Deno.test("server accepts non-minimal length encodings", async () => {
  const out = await againstServer([
    frame(TEXT, "short in 16 bits", [1, 2, 3, 4], 16),
    frame(TEXT, "short in 64 bits", [1, 2, 3, 4], 64),
    frame(CLOSE, new Uint8Array([0x03, 0xe8])),
  ]);
  assertEquals(out.frames.slice(0, 2).map((f) => dec(f.payload)), [
    "short in 16 bits",
    "short in 64 bits",
  ]);
});

Deno.test("server echoes 1,000 pipelined messages in order, coalescing writes", async () => {
  const burst: number[] = [];
  for (let i = 0; i < 1000; i++) burst.push(...frame(TEXT, `message ${i}`));
  const out = await againstServer([
    new Uint8Array(burst),
    frame(CLOSE, new Uint8Array([0x03, 0xe8])),
  ]);
  assertEquals(out.frames.length, 1001);
  for (let i = 0; i < 1000; i++) {
    assertEquals(dec(out.frames[i].payload), `message ${i}`);
  }
});

Deno.test("client refuses a masked server frame with 1002", async () => {
  const { peer, transport } = rawPair();
  const client = new Conn(transport, { role: "client" });
  await peer.write(frame(TEXT, "masked"));
  const err = await client.readMessage().catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.code, "masked_frame");
  const { bytes } = await readToEnd(peer, 2000);
  const frames = parseFrames(bytes);
  assertEquals(closeCodeOf(frames[0]), 1002);
  assert(frames[0].masked, "client frames are masked");
  peer.close();
});

Deno.test("client masks every frame with a fresh key and leaves the caller's bytes untouched", async () => {
  const { peer, transport } = rawPair(1 << 20);
  const client = new Conn(transport, { role: "client" });
  const small = pattern(100);
  const large = pattern(200_000, 13);
  const before = [small.slice(), large.slice()];
  await client.writeMessage(OpCode.Binary, small);
  await client.writeMessage(OpCode.Binary, large);
  await client.writeMessage(OpCode.Text, "text");
  await client.flush();
  assertEquals([small, large], before);
  const raw = new Uint8Array(300_000);
  let got = 0;
  const expected = 2 + 4 + 100 + 10 + 4 + 200_000 + 2 + 4 + 4;
  while (got < expected) got += (await peer.read(raw.subarray(got)))!;
  const frames = parseFrames(raw.subarray(0, got));
  assertEquals(frames.map((f) => f.masked), [true, true, true]);
  assertEquals(frames[0].payload, small);
  assertEquals(frames[1].payload, large);
  assertEquals(dec(frames[2].payload), "text");
  const keys = [0, 106].map((at) =>
    raw.slice(at + 2 + (at ? 8 : 0), at + 6 + (at ? 8 : 0))
  );
  assertNotEquals(keys[0], keys[1]);
  client.abort();
  peer.close();
});

Deno.test("client and server echo every size up to 16 MiB over TCP", async () => {
  const { client, server } = await connPair({ readLimit: 16 << 20 });
  const echo = (async () => {
    const buf = new Uint8Array(16 << 20);
    for await (const m of server) {
      await server.writeMessage(m.opcode, m.data.slice(0, buf.length));
    }
  })();
  for (const size of [0, 125, 126, 65535, 65536, 1 << 20, 16 << 20]) {
    const data = pattern(size, 11);
    await client.writeMessage(OpCode.Binary, data);
    const m = await client.readMessage();
    assertEquals(m.opcode, OpCode.Binary);
    assertEquals(m.data.length, size);
    assert(m.data.every((b, i) => b === data[i]), `size ${size}`);
  }
  await client.writeMessage(OpCode.Text, "κόσμε");
  assertEquals(dec((await client.readMessage()).data), "κόσμε");
  await client.close();
  await echo;
  assertEquals((await server.closed).code, 1000);
});

Deno.test("readMessage() into a caller buffer returns a view of it, and refuses one too small", async () => {
  const { client, server } = memoryConnPair();
  const buf = new Uint8Array(64);
  await client.writeMessage(OpCode.Text, "fits");
  const m = await server.readMessage(buf);
  assertEquals(m.data.buffer, buf.buffer);
  assertEquals(dec(m.data), "fits");
  await client.writeMessage(OpCode.Binary, new Uint8Array(65));
  const err = await server.readMessage(buf).catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals([err.code, err.closeCode], ["buffer_too_small", 1009]);
  const closeErr = await client.readMessage().catch((e) => e);
  assertInstanceOf(closeErr, CloseError);
  assertEquals(closeErr.code, 1009);
});

Deno.test("readHeader(), readPayload() and readFrame() expose raw frames", async () => {
  const { client, server } = memoryConnPair();
  await client.writeFrame(false, 0, OpCode.Text, enc("Hel"));
  await client.ping(enc("x"));
  await client.writeFrame(true, 0, OpCode.Continuation, enc("lo"));
  const buf = new Uint8Array(16);
  const h = await server.readHeader();
  assertEquals([h.fin, h.opcode, h.length, h.masked], [false, 1, 3, true]);
  assertEquals(dec(await server.readPayload(buf)), "Hel");
  const ping = await server.readFrame(buf);
  assertEquals([ping.header.opcode, dec(ping.payload)], [OpCode.Ping, "x"]);
  const last = await server.readFrame(buf);
  assertEquals([last.header.fin, last.header.opcode, dec(last.payload)], [
    true,
    0,
    "lo",
  ]);
  // A header whose payload is not read is skipped by the next read.
  await client.writeMessage(OpCode.Binary, pattern(300));
  await client.writeMessage(OpCode.Text, "next");
  assertEquals((await server.readHeader()).length, 300);
  assertEquals(dec((await server.readMessage()).data), "next");
  client.abort();
  server.abort();
});

Deno.test("streamMessage() fragments with lookahead: FIN on the last data frame, no empty tail", async () => {
  const cases: [number[], number, number[]][] = [
    [[300, 700, 1000, 500], 1000, [1000, 1000, 500]],
    [[1000, 1000], 1000, [1000, 1000]],
    [[2000], 1000, [1000, 1000]],
    [[], 1000, [0]],
    [[1, 1, 1], 2, [2, 1]],
  ];
  for (const [chunks, chunkSize, expected] of cases) {
    const { peer, transport } = rawPair();
    const server = new Conn(transport, { role: "server" });
    await server.streamMessage(OpCode.Binary, chunksOf(chunks), chunkSize);
    await server.flush();
    const total = expected.reduce((a, b) => a + b, 0);
    const wire = expected.reduce((a, n) => a + n + (n < 126 ? 2 : 4), 0);
    const raw = new Uint8Array(wire);
    let got = 0;
    while (got < wire) got += (await peer.read(raw.subarray(got)))!;
    const frames = parseFrames(raw);
    assertEquals(frames.map((f) => f.payload.length), expected);
    assertEquals(
      frames.map((f) => f.fin),
      expected.map((_, i) => i === expected.length - 1),
    );
    assertEquals(
      frames.map((f) => f.opcode),
      expected.map((_, i) => (i === 0 ? 2 : 0)),
    );
    assertEquals(frames.reduce((a, f) => a + f.payload.length, 0), total);
    server.abort();
    peer.close();
  }
});

Deno.test("streamMessage() from a ReadableStream round-trips through readMessage()", async () => {
  const { client, server } = memoryConnPair({ chunkSize: 4096 });
  const data = pattern(50_000, 3);
  const stream = ReadableStream.from([
    data.subarray(0, 12_345),
    data.subarray(12_345),
  ]);
  await client.streamMessage(OpCode.Binary, stream);
  const m = await server.readMessage();
  assertEquals(m.data, data);
  await assertRejects(
    () => client.streamMessage(OpCode.Binary, stream, 8192),
    RangeError,
  );
  client.abort();
  server.abort();
});

Deno.test("pings and other messages never land inside a streamed message", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server", chunkSize: 1024 });
  async function* slow() {
    for (let i = 0; i < 20; i++) {
      yield new Uint8Array(700).fill(i);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  const streaming = server.streamMessage(OpCode.Binary, slow());
  const others: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 3));
    others.push(server.ping(enc(`p${i}`)));
    others.push(server.writeMessage(OpCode.Text, `m${i}`));
  }
  await streaming;
  await Promise.all(others);
  await server.flush();
  server.abort();
  const { bytes } = await readToEnd(peer, 2000);
  peer.close();
  const frames = parseFrames(bytes);
  // The streamed message is contiguous among data frames; pings may sit between fragments.
  const data = frames.filter((f) => f.opcode !== 0x9);
  const streamEnd = data.findIndex((f) => f.fin);
  assertEquals(data[0].opcode, 2);
  assert(data.slice(1, streamEnd + 1).every((f) => f.opcode === 0));
  assertEquals(
    data.slice(0, streamEnd + 1).reduce((a, f) => a + f.payload.length, 0),
    14_000,
  );
  assertEquals(
    data.slice(streamEnd + 1).map((f) => dec(f.payload)),
    others.length ? Array.from({ length: 10 }, (_, i) => `m${i}`) : [],
  );
  assertEquals(frames.filter((f) => f.opcode === 0x9).length, 10);
});

Deno.test("the writer never changes a buffer the transport still holds", async () => {
  // A transport whose writes settle late, snapshotting each chunk when handed over.
  const held: { chunk: Uint8Array; copy: Uint8Array }[] = [];
  let mutated = 0;
  const received: number[] = [];
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      const entry = { chunk, copy: chunk.slice() };
      held.push(entry);
      await new Promise((r) => setTimeout(r, 1));
      if (!entry.chunk.every((b, i) => b === entry.copy[i])) mutated++;
      received.push(...entry.copy);
    },
  });
  const readable = new ReadableStream<Uint8Array>({ pull() {} });
  const conn = new Conn({ readable, writable }, {
    role: "client",
    chunkSize: 256,
  });
  const sent: string[] = [];
  for (let i = 0; i < 300; i++) {
    const text = `frame ${i} `.repeat(1 + (i % 9));
    sent.push(text);
    await conn.writeMessage(OpCode.Text, text);
  }
  await conn.flush();
  assertEquals(mutated, 0);
  assert(held.length < 300, `writes were coalesced (${held.length} writes)`);
  const frames = parseFrames(new Uint8Array(received));
  assertEquals(frames.map((f) => dec(f.payload)), sent);
  conn.abort();
});

Deno.test("a BYOB stream transport reads frames like a direct one", async () => {
  const { client, server } = await connPair({ read: "byob" });
  for (const size of [0, 10, 5000, 70_000]) {
    const data = pattern(size, 5);
    await client.writeMessage(OpCode.Binary, data);
    const m = await server.readMessage();
    assertEquals(m.data, data);
    await server.writeMessage(OpCode.Binary, m.data);
    assertEquals((await client.readMessage()).data, data);
  }
  const serverSide = server.readMessage().catch((e) => e);
  await client.close();
  assertInstanceOf(await serverSide, CloseError);
  assertEquals((await server.closed).code, 1000);
});

Deno.test("a plain (non-byte) stream pair works as a transport", async () => {
  const a = new TransformStream<Uint8Array, Uint8Array>();
  const b = new TransformStream<Uint8Array, Uint8Array>();
  const client = new Conn({ readable: a.readable, writable: b.writable }, {
    role: "client",
  });
  const server = new Conn({ readable: b.readable, writable: a.writable }, {
    role: "server",
  });
  await client.writeMessage(OpCode.Text, "over streams");
  assertEquals(dec((await server.readMessage()).data), "over streams");
  const closing = client.close(1001, "going");
  const err = await server.readMessage().catch((e) => e);
  assertInstanceOf(err, CloseError);
  assertEquals([err.code, err.reason], [1001, "going"]);
  await closing;
  assertEquals((await client.closed).code, 1001);
});

Deno.test("close() runs the handshake: both sides see the code, the server drops the connection first", async () => {
  const { client, server } = memoryConnPair();
  const serverSide = server.readMessage().catch((e) => e);
  await client.close(4000, "done");
  const err = await serverSide;
  assertInstanceOf(err, CloseError);
  assertEquals([err.code, err.reason], [4000, "done"]);
  assertEquals(await server.closed, { code: 4000, reason: "done" });
  assertEquals((await client.closed).code, 4000);
  await assertRejects(
    () => client.writeMessage(OpCode.Text, "late"),
    WebSocketError,
  );
  await assertRejects(() => client.readMessage(), Error);
});

Deno.test("close() without a reader drains messages until the peer's close", async () => {
  const { client, server } = memoryConnPair();
  await client.writeMessage(OpCode.Text, "unread");
  const serverLoop = (async () => {
    for await (const m of server) await server.writeMessage(m.opcode, m.data);
  })();
  await client.close(1000);
  await serverLoop;
  assertEquals((await client.closed).code, 1000);
});

Deno.test("close() gives up after the close timeout when the peer never answers", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server", closeTimeout: 200 });
  const started = Date.now();
  await server.close(1001);
  assert(Date.now() - started < 2000);
  assertEquals((await server.closed).code, 1006);
  const { bytes, ended } = await readToEnd(peer, 2000);
  assertEquals(closeCodeOf(parseFrames(bytes)[0]), 1001);
  assert(ended);
  peer.close();
});

Deno.test("close() refuses codes that may not be sent and over-long reasons", async () => {
  const { client, server } = memoryConnPair();
  await assertRejects(() => client.close(1005), RangeError);
  await assertRejects(() => client.close(1000, "x".repeat(124)), RangeError);
  client.abort();
  server.abort();
});

Deno.test("abort() drops the connection; the peer sees an abnormal closure", async () => {
  const { client, server } = memoryConnPair();
  client.abort();
  const err = await server.readMessage().catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals([err.code, err.closeCode], ["closed", 1006]);
  assertEquals((await server.closed).code, 1006);
  assertEquals((await client.closed).code, 1006);
});

Deno.test("a peer that disappears mid-frame yields one clear error", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server" });
  await peer.write(frame(BINARY, new Uint8Array(100)).subarray(0, 30));
  peer.close();
  const first = await server.readMessage().catch((e) => e);
  assertInstanceOf(first, WebSocketError);
  assertEquals(first.code, "closed");
  // The error sticks.
  assertEquals(await server.readMessage().catch((e) => e), first);
});

Deno.test("concurrent reads are refused without breaking the connection", async () => {
  const { client, server } = memoryConnPair();
  const pending = server.readMessage();
  await assertRejects(() => server.readMessage(), TypeError);
  await client.writeMessage(OpCode.Text, "still fine");
  assertEquals(dec((await pending).data), "still fine");
  client.abort();
  server.abort();
});

Deno.test("keepAlive() pings on schedule and counts pongs", async () => {
  const { client, server } = memoryConnPair();
  let pongs = 0;
  client.onPong = () => pongs++;
  const serverLoop = (async () => {
    for await (const _ of server) { /* pings are answered by reads */ }
  })();
  const clientLoop = (async () => {
    for await (const _ of client) { /* pongs are seen by reads */ }
  })();
  const stop = new AbortController();
  const alive = client.keepAlive(30, stop.signal);
  await new Promise((r) => setTimeout(r, 250));
  stop.abort();
  await alive;
  assert(pongs >= 3, `pongs seen: ${pongs}`);
  await client.close();
  await Promise.all([serverLoop, clientLoop]);
});

Deno.test("keepAlive() detects a dead peer and aborts the connection", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server" });
  const err = await server.keepAlive(40).catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.code, "pong_timeout");
  assertEquals((await server.closed).code, 1006);
  peer.close();
});

Deno.test("a custom ping handler replaces the automatic pong", async () => {
  const { peer, transport } = rawPair();
  const seen: string[] = [];
  const server = new Conn(transport, {
    role: "server",
    onPing: (payload) => void seen.push(dec(payload)),
  });
  await peer.write(frame(PING, "custom"));
  await peer.write(frame(TEXT, "msg"));
  assertEquals(dec((await server.readMessage()).data), "msg");
  assertEquals(seen, ["custom"]);
  server.abort();
  const { bytes } = await readToEnd(peer, 1000);
  assertEquals(parseFrames(bytes).filter((f) => f.opcode === 0xa).length, 0);
  peer.close();
});

Deno.test("the async iterator ends at the peer's close and reports the code", async () => {
  const { client, server } = memoryConnPair();
  const got: string[] = [];
  const loop = (async () => {
    for await (const m of server) got.push(dec(m.data));
  })();
  for (const s of ["a", "b", "c"]) await client.writeMessage(OpCode.Text, s);
  await client.close(1000, "end");
  await loop;
  assertEquals(got, ["a", "b", "c"]);
  assertEquals(await server.closed, { code: 1000, reason: "end" });
});

Deno.test("the async iterator: break leaves the connection open, errors end it, concurrent next() calls queue", async () => {
  const { client, server } = memoryConnPair();
  for (const s of ["a", "b"]) await client.writeMessage(OpCode.Text, s);
  for await (const m of server) {
    assertEquals(dec(m.data), "a");
    break;
  }
  // The connection is still readable after a break; a new iterator goes on.
  assertEquals(dec((await server.readMessage()).data), "b");
  const it = server[Symbol.asyncIterator]();
  // A second next() before the first settles waits for it instead of failing
  // with "another read is in progress" (the message object is reused, so only
  // the latest step's data is current).
  const both = Promise.all([it.next(), it.next()]);
  for (const s of ["c", "d"]) await client.writeMessage(OpCode.Text, s);
  const [first, second] = await both;
  assertEquals(first.done, false);
  assertEquals(second.done ? null : dec(second.value.data), "d");
  // A protocol error (an unmasked client frame) is thrown, then the iteration is over.
  const { peer, transport } = rawPair();
  const strict = new Conn(transport, { role: "server" });
  await peer.write(frame(0x81, "x", null));
  const steps = strict[Symbol.asyncIterator]();
  const err = await steps.next().catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals(await steps.next(), { done: true, value: undefined });
  peer.close();
  const end = server[Symbol.asyncIterator]().next();
  await client.close();
  assertEquals((await end).done, true);
});

Deno.test("idleTimeout fails a silent connection with 1001 while a read waits", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server", idleTimeout: 100 });
  const started = Date.now();
  const err = await server.readMessage().catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals([err.code, err.closeCode], ["idle_timeout", 1001]);
  assert(Date.now() - started < 2000);
  const { bytes, ended } = await readToEnd(peer, 2000);
  assertEquals(closeCodeOf(parseFrames(bytes)[0]), 1001);
  assert(ended);
  peer.close();
});

Deno.test("idleTimeout is reset by any traffic, pings included", async () => {
  const { peer, transport } = rawPair();
  const server = new Conn(transport, { role: "server", idleTimeout: 150 });
  const pending = server.readMessage();
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 50));
    await peer.write(frame(PING, `${i}`));
  }
  await peer.write(frame(TEXT, "alive"));
  assertEquals(dec((await pending).data), "alive");
  server.abort();
  peer.close();
});

Deno.test("writers wait when the peer stops reading, and resume when it reads", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  const chunk = new Uint8Array(256 * 1024);
  let blocked: Promise<void> | null = null;
  for (let i = 0; i < 400 && blocked === null; i++) {
    const write = server.writeMessage(OpCode.Binary, chunk);
    const settled = await Promise.race([
      write.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 300)),
    ]);
    if (!settled) blocked = write;
  }
  assert(blocked !== null, "a write waited for the peer");
  assert(server.bufferedAmount > 0);
  // Reading on the peer's side lets the waiting write finish.
  const drain = readToEnd(tcp.client, 3000);
  await blocked;
  server.abort();
  await drain;
  tcp.client.close();
});

Deno.test("writeBufferLimit refuses writes that would queue past it", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, {
    role: "server",
    writeBufferLimit: 1 << 20,
  });
  const chunk = new Uint8Array(256 * 1024);
  const results = await Promise.allSettled(
    Array.from(
      { length: 200 },
      () => server.writeMessage(OpCode.Binary, chunk),
    ),
  );
  const refused = results.filter((r) =>
    r.status === "rejected" && r.reason instanceof WebSocketError &&
    r.reason.code === "write_buffer_full"
  );
  assert(refused.length > 0, "some writes were refused");
  server.abort();
  tcp.client.close();
});

Deno.test("writePrepared() sends one encoded frame to many connections unchanged", async () => {
  const { PreparedMessage } = await import("../../mod.ts");
  const pairs = [1, 2, 3].map(() => rawPair(1 << 20));
  const servers = pairs.map((p) => new Conn(p.transport, { role: "server" }));
  const small = new PreparedMessage(OpCode.Text, "to everyone");
  const large = new PreparedMessage(OpCode.Binary, pattern(100_000));
  for (const s of servers) {
    await s.writePrepared(small);
    await s.writePrepared(large);
    await s.flush();
  }
  for (const p of pairs) {
    const expected = small.frame.length + large.frame.length;
    const raw = new Uint8Array(expected);
    let got = 0;
    while (got < expected) got += (await p.peer.read(raw.subarray(got)))!;
    assertEquals(raw.subarray(0, small.frame.length), small.frame);
    const frames = parseFrames(raw);
    assertEquals(dec(frames[0].payload), "to everyone");
    assertEquals(frames[1].payload, large.data);
    p.peer.close();
  }
  servers.forEach((s) => s.abort());
  // A client connection masks: it re-frames the prepared message.
  const { client, server } = memoryConnPair();
  await client.writePrepared(small);
  assertEquals(dec((await server.readMessage()).data), "to everyone");
  client.abort();
  server.abort();
});

Deno.test("maxFrameSize refuses a large frame with 1009 even within the read limit", async () => {
  const out = await againstServer(
    [frame(0x02, new Uint8Array(100)), frame(0x80, new Uint8Array(3000))],
    { maxFrameSize: 1024 },
  );
  assertEquals(closeCodeOf(out.frames.at(-1)), 1009);
  assertEquals((out.error as WebSocketError).code, "frame_too_big");
});

Deno.test("an internal buffer grown by a large message is let go when small ones follow", async () => {
  const { client, server } = bigPipeConnPair({
    readLimit: ReadLimit.Large,
  });
  const large = new Uint8Array(1 << 20).fill(7);
  // A run of large messages reuses one buffer.
  await client.writeMessage(OpCode.Binary, large);
  const first = (await server.readMessage()).data;
  assertEquals(first.length, large.length);
  await client.writeMessage(OpCode.Binary, large);
  const second = (await server.readMessage()).data;
  assertEquals(second.buffer, first.buffer, "the large buffer was reused");
  // A small message that cannot be read in place (fragmented, so its size is
  // known only at its end) lets it go once read.
  for (let i = 0; i < 2; i++) {
    await client.writeFrame(false, 0, OpCode.Binary, new Uint8Array([1, 2]));
    await client.writeFrame(true, 0, OpCode.Continuation, new Uint8Array([3]));
  }
  assertEquals([...(await server.readMessage()).data], [1, 2, 3]);
  const small = await server.readMessage();
  assertEquals([...small.data], [1, 2, 3]);
  assert(small.data.buffer !== first.buffer, "a small buffer took its place");
  assert(small.data.buffer.byteLength < 64 * 1024);
  await client.writeMessage(OpCode.Binary, large);
  assertEquals((await server.readMessage()).data, large);
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
});
