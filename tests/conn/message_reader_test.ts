import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { Conn, OpCode, WebSocketError } from "../../mod.ts";
import type { Header } from "../../src/codec/header.ts";
import { MessageReader } from "../../src/conn/message_reader.ts";
import { simdXorOf } from "../../src/codec/simd_mask.ts";
import { FrameReader } from "../../src/io/frame_reader.ts";
import { HEADROOM } from "../../src/io/frame_writer.ts";
import { ByteSource } from "../../src/io/transport.ts";
import { CountingConn, tcpPair } from "../_pair.ts";
import { TEXT_HELLO_MASKED } from "../_rfc_frames.ts";
import { concat, dec, enc, encodeFrame, Op, parseFrames } from "../_wire.ts";

const LIMITS = {
  expectMasked: true,
  rsvAllowed: 0,
  readLimit: 1 << 16,
  maxFrameSize: 1 << 16,
  maxFragments: 100,
  chunkSize: 256,
};

/** A reader over `bytes` delivered in pieces of `step` bytes, with a recording owner. */
function readerOf(bytes: Uint8Array, step: number, limits = LIMITS) {
  let at = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at += step));
    },
  });
  const source = new ByteSource(
    { readable, writable: new WritableStream() },
    0,
  );
  const controls: { opcode: number; payload: string }[] = [];
  const reader = new MessageReader(
    new FrameReader(source, limits.chunkSize),
    limits,
    {
      control: {
        onControl(h: Header, payload: Uint8Array) {
          controls.push({ opcode: h.opcode, payload: dec(payload) });
          return undefined;
        },
      },
      failures: { readFailed: (err) => Promise.resolve(err as Error) },
      replies: { hold() {}, release() {}, lendHeadroom() {} },
    },
  );
  return { reader, controls };
}

async function messages(reader: MessageReader, n: number, buf?: Uint8Array) {
  const out: { opcode: number; text: string; rsv: number }[] = [];
  for (let i = 0; i < n; i++) {
    reader.begin();
    const msg = await reader.readMessage(buf);
    out.push({ opcode: msg.opcode, text: dec(msg.data), rsv: msg.rsv });
  }
  return out;
}

const key = [0x37, 0xfa, 0x21, 0x3d];
const stream = concat(
  TEXT_HELLO_MASKED, // RFC 6455 §5.7: masked "Hello", one frame
  encodeFrame({ opcode: Op.Text, payload: "Hel", fin: false, mask: key }),
  encodeFrame({ opcode: Op.Ping, payload: "?", mask: key }), // between fragments
  encodeFrame({ opcode: Op.Continuation, payload: "lo", mask: key }),
  encodeFrame({ opcode: Op.Binary, payload: "x".repeat(1000), mask: key }), // > chunk
  encodeFrame({ opcode: Op.Text, payload: "κόσμε", fin: false, mask: key }),
  encodeFrame({ opcode: Op.Continuation, payload: "", mask: key }),
);

Deno.test("MessageReader: the same messages whatever the transport's read sizes", async () => {
  for (const step of [1, 2, 3, 7, 64, 255, 4096]) {
    const { reader, controls } = readerOf(stream, step);
    assertEquals(await messages(reader, 4), [
      { opcode: Op.Text, text: "Hello", rsv: 0 },
      { opcode: Op.Text, text: "Hello", rsv: 0 },
      { opcode: Op.Binary, text: "x".repeat(1000), rsv: 0 },
      { opcode: Op.Text, text: "κόσμε", rsv: 0 },
    ], `step ${step}`);
    assertEquals(controls, [{ opcode: Op.Ping, payload: "?" }], `step ${step}`);
  }
});

Deno.test("MessageReader: into a caller's buffer, and refusing one too small", async () => {
  const { reader } = readerOf(stream, 5);
  const buf = new Uint8Array(2000);
  const got = await messages(reader, 3, buf);
  assertEquals(got.map((m) => m.text.length), [5, 5, 1000]);
  const small = readerOf(stream, 5).reader;
  small.begin();
  await small.readMessage(new Uint8Array(5));
  small.begin();
  const err = await small.readMessage(new Uint8Array(4)).catch((e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.code, "buffer_too_small");
});

Deno.test("MessageReader: invalid UTF-8 fails on the byte that breaks it, split across fragments", async () => {
  const bad = concat(
    encodeFrame({
      opcode: Op.Text,
      payload: enc("ok "),
      fin: false,
      mask: key,
    }),
    encodeFrame({
      opcode: Op.Continuation,
      payload: new Uint8Array([0xce]),
      fin: false,
      mask: key,
    }),
    // 0xce must be followed by a continuation byte: "A" is not one.
    encodeFrame({ opcode: Op.Continuation, payload: enc("A"), mask: key }),
  );
  for (const step of [1, 4, 100]) {
    const { reader } = readerOf(bad, step);
    reader.begin();
    await assertRejects(
      () => reader.readMessage(undefined),
      WebSocketError,
      "UTF-8",
    );
  }
});

Deno.test("MessageReader: readHeader and readPayload, and a payload left unread is skipped", async () => {
  const { reader } = readerOf(stream, 3);
  reader.begin();
  const h = await reader.readHeader();
  assertEquals([h.opcode, h.length, h.masked], [Op.Text, 5, true]);
  reader.reading = false;
  reader.begin();
  const payload = await reader.readPayload(new Uint8Array(5));
  assertEquals(dec(payload), "Hello");
  reader.reading = false;
  reader.begin();
  assertEquals((await reader.readHeader()).fin, false); // "Hel", left unread
  reader.reading = false;
  assertEquals((await messages(reader, 1))[0].text, "lo"); // the rest of "Hello"
});

Deno.test("MessageReader refuses a second read beside the first", () => {
  const { reader } = readerOf(stream, 1);
  reader.begin();
  let error: unknown;
  try {
    reader.begin();
  } catch (err) {
    error = err;
  }
  assertInstanceOf(error, TypeError);
});

Deno.test("a 16 KiB text frame gathered whole over TCP still fails at its first invalid byte (1007), before the frame ends", async () => {
  const { client, server } = await tcpPair();
  const conn = new Conn(server, { role: "server" });
  try {
    const payload = new Uint8Array(16_384).fill(0x61);
    payload[100] = 0xff;
    const frame = encodeFrame({ opcode: Op.Text, payload, mask: true });
    await client.write(frame.subarray(0, 4000)); // the rest never comes
    const err = await assertRejects(() => conn.readMessage(), WebSocketError);
    assertEquals([err.code, err.closeCode], ["invalid_utf8", 1007]);
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("pipelined 16 KiB frames, text and binary, masked, come back whole and intact over TCP", async () => {
  const { client, server } = await tcpPair();
  const conn = new Conn(server, { role: "server", readLimit: 1 << 20 });
  try {
    const texts = [1, 2, 3].map((n) => "é".repeat(8192 + n));
    const binaries = [1, 2, 3].map((n) => new Uint8Array(16_000 + n).fill(n));
    await client.write(concat(
      ...texts.map((t) =>
        encodeFrame({ opcode: Op.Text, payload: t, mask: true })
      ),
      ...binaries.map((payload) =>
        encodeFrame({ opcode: Op.Binary, payload, mask: true })
      ),
    ));
    for (const t of texts) {
      assertEquals(dec((await conn.readMessage()).data), t);
    }
    for (const b of binaries) assertEquals((await conn.readMessage()).data, b);
  } finally {
    conn.abort();
    client.close();
  }
});

/**
 * `payload` as a client sends it in frames of `size` bytes (gorilla/websocket's
 * 4 KiB), `opcode` first; unmasked with `mask: false`; with `extra` bytes
 * spliced in after frame `after`.
 */
function fragmented(
  payload: Uint8Array,
  size: number,
  options: {
    opcode?: number;
    mask?: boolean;
    after?: number;
    extra?: Uint8Array;
  } = {},
): Uint8Array {
  const { opcode = Op.Binary, mask = true, after = -1, extra } = options;
  const frames: Uint8Array[] = [];
  for (let i = 0, at = 0; at < payload.length; i++, at += size) {
    frames.push(encodeFrame({
      opcode: at === 0 ? opcode : Op.Continuation,
      payload: payload.subarray(at, at + size),
      fin: at + size >= payload.length,
      mask,
    }));
    if (i === after && extra !== undefined) frames.push(extra);
  }
  return concat(...frames);
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * seed + (i >> 9)) & 0xff);
}

Deno.test("four 16 KiB messages in 4 KiB frames over TCP come in a few transport reads, intact", async () => {
  const { client, server } = await tcpPair();
  const counted = new CountingConn(server);
  const conn = new Conn(counted, { role: "server", chunkSize: 4096 });
  try {
    for (let round = 0; round < 4; round++) {
      const payloads = [1, 2, 3, 4].map((i) => pattern(16_384, round * 4 + i));
      await client.write(concat(...payloads.map((p) => fragmented(p, 4096))));
      const before = counted.reads;
      for (const payload of payloads) {
        assertEquals((await conn.readMessage()).data, payload);
      }
      // 65,664 bytes: one read per 4 KiB chunk would be 17; a burst buffer
      // takes them in a few (how many depends on how TCP delivers them).
      const reads = counted.reads - before;
      assert(reads <= 6, `${reads} reads for 16 frames`);
    }
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a run of 1 MiB messages in 4 KiB frames reuses one message buffer; a small message then lets it go", async () => {
  const { client, server } = await tcpPair();
  const conn = new Conn(server, { role: "server", readLimit: 4 << 20 });
  try {
    const payloads = [1, 2, 3].map((seed) => pattern(1 << 20, seed));
    const sent = client.write(concat(
      ...payloads.map((p) => fragmented(p, 4096)),
      encodeFrame({ opcode: Op.Binary, payload: "small", mask: true }),
      fragmented(enc("in two"), 3),
    ));
    const buffers: ArrayBufferLike[] = [];
    for (const payload of payloads) {
      const msg = await conn.readMessage();
      assertEquals(msg.data, payload);
      buffers.push(msg.data.buffer);
    }
    assertEquals(buffers[1], buffers[0], "no buffer grown afresh per message");
    assertEquals(buffers[2], buffers[0]);
    assertEquals(dec((await conn.readMessage()).data), "small");
    const two = await conn.readMessage();
    assertEquals(dec(two.data), "in two");
    assert(two.data.buffer.byteLength < 1 << 20, "the 1 MiB buffer is let go");
    await sent;
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("1 MiB messages over TCP, whole or in 4 KiB frames: unmasked in SIMD memory, each echo one transport write from where it lies", async () => {
  const { client, server } = await tcpPair();
  const counted = new CountingConn(server);
  const conn = new Conn(counted, { role: "server", readLimit: 4 << 20 });
  try {
    const whole = pattern(1 << 20, 3);
    const inFrames = pattern(1 << 20, 7);
    const sent = client.write(concat(
      encodeFrame({ opcode: Op.Binary, payload: whole, mask: true }),
      fragmented(inFrames, 4096),
    ));
    for (const payload of [whole, inFrames]) {
      const msg = await conn.readMessage();
      assertEquals(msg.data, payload);
      assert(simdXorOf(msg.data.buffer) !== null, "in a SIMD memory");
      assertEquals(msg.data.byteOffset, 64, "one cache line in");
      const writes = counted.writes;
      const echoed = readAll(client, 10 + payload.length);
      await conn.writeMessage(OpCode.Binary, msg.data);
      // One write, unless TCP takes it in parts: the header never goes alone.
      const sizes = counted.written.slice(writes);
      assert(sizes[0] > 10, `header and payload together: ${sizes}`);
      assertEquals(sizes.reduce((a, b) => a + b), 10 + payload.length);
      const [frame] = parseFrames(await echoed);
      assertEquals(frame.payload, payload);
      assertEquals(msg.data, payload, "the message is left as it was");
    }
    await sent;
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a large message forwarded to another connection, or in part, is framed apart: the headroom is its reader's connection's alone", async () => {
  const a = await tcpPair();
  const b = await tcpPair();
  const from = new Conn(a.server, { role: "server", readLimit: 4 << 20 });
  const counted = new CountingConn(b.server);
  const to = new Conn(counted, { role: "server" });
  try {
    const payload = pattern(300_000, 11);
    await a.client.write(
      encodeFrame({ opcode: Op.Binary, payload, mask: true }),
    );
    const msg = await from.readMessage();
    const before = msg.data.byteOffset - HEADROOM;
    const headroom = new Uint8Array(msg.data.buffer, before, HEADROOM).slice();
    const forwarded = readAll(b.client, 10 + payload.length);
    await to.writeMessage(OpCode.Binary, msg.data);
    assertEquals(parseFrames(await forwarded)[0].payload, payload);
    assertEquals(counted.written[0], 10, "the header apart");
    const tail = msg.data.subarray(1);
    const echoed = readAll(a.client, 10 + tail.length);
    await from.writeMessage(OpCode.Binary, tail);
    assertEquals(parseFrames(await echoed)[0].payload, payload.subarray(1));
    assertEquals(new Uint8Array(msg.data.buffer, before, HEADROOM), headroom);
    assertEquals(msg.data, payload);
  } finally {
    from.abort();
    to.abort();
    a.client.close();
    b.client.close();
  }
});

/** Reads `length` bytes from `peer` (fails if it closes first). */
async function readAll(peer: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (let got = 0; got < length;) {
    const n = await peer.read(out.subarray(got));
    if (n === null) throw new Error(`Closed after ${got} of ${length} bytes`);
    got += n;
  }
  return out;
}

/**
 * A `Deno.Conn`-like transport, so read straight into the caller's buffer, that
 * serves `bytes` in reads as large as asked but never across a cut; it records
 * what each read asked for and keeps what is written.
 */
class ScriptedConn {
  readonly asked: number[] = [];
  readonly written: Uint8Array[] = [];
  readonly readable = new ReadableStream<Uint8Array>();
  readonly writable = new WritableStream<Uint8Array>();
  #bytes: Uint8Array;
  #cuts: number[];
  #at = 0;
  constructor(bytes: Uint8Array, cuts: number[] = []) {
    this.#bytes = bytes;
    this.#cuts = cuts.toSorted((a, b) => a - b);
  }
  read(p: Uint8Array): Promise<number | null> {
    this.asked.push(p.length);
    if (this.#at >= this.#bytes.length) return Promise.resolve(null);
    const cut = this.#cuts.find((c) => c > this.#at) ?? this.#bytes.length;
    const n = Math.min(p.length, cut - this.#at);
    p.set(this.#bytes.subarray(this.#at, this.#at + n));
    this.#at += n;
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    this.written.push(p.slice());
    return Promise.resolve(p.length);
  }
  close(): void {}
}

/** Where each frame of `wire` starts. */
function frameStarts(wire: Uint8Array): number[] {
  const starts: number[] = [];
  for (let at = 0; at < wire.length;) {
    starts.push(at);
    const b1 = wire[at + 1] & 0x7f;
    const size = b1 < 126 ? 2 : b1 === 126 ? 4 : 10;
    const length = b1 < 126
      ? b1
      : b1 === 126
      ? (wire[at + 2] << 8) | wire[at + 3]
      : Number(
        new DataView(wire.buffer, wire.byteOffset + at + 2).getBigUint64(0),
      );
    at += size + ((wire[at + 1] & 0x80) ? 4 : 0) + length;
  }
  return starts;
}

Deno.test("1 MiB messages in 4 KiB frames are read straight into the message buffer, intact whatever the read sizes, past a ping, a header cut short and the next message", async () => {
  const binary = pattern(1 << 20, 5);
  const text = enc("κόσμε ".repeat(100_000)); // 4 KiB frames split characters
  const first = fragmented(binary, 4096);
  const second = fragmented(text, 4096, {
    opcode: Op.Text,
    after: 70,
    extra: encodeFrame({ opcode: Op.Ping, payload: "mid", mask: true }),
  });
  const wire = concat(
    first,
    second,
    encodeFrame({ opcode: Op.Binary, payload: "after", mask: true }),
  );
  const starts = frameStarts(wire);
  const cuts = [
    [first.length, first.length + second.length], // each message apart
    starts.map((s) => s + 1), // every header cut after its first byte
    Array.from({ length: 40 }, (_, i) => 1 + i * 65_537), // odd sizes
  ];
  for (const [run, cut] of cuts.entries()) {
    const scripted = new ScriptedConn(wire, cut);
    const conn = new Conn(scripted, { role: "server", readLimit: 4 << 20 });
    assertEquals((await conn.readMessage()).data, binary, `run ${run}`);
    const asked = scripted.asked.length;
    const msg = await conn.readMessage();
    assertEquals([msg.opcode, msg.data], [OpCode.Text, text], `run ${run}`);
    assertEquals(dec((await conn.readMessage()).data), "after");
    await new Promise((resolve) => setTimeout(resolve, 0)); // replies held for the burst
    const pong = parseFrames(concat(...scripted.written))[0];
    assertEquals([pong.opcode, dec(pong.payload)], [Op.Pong, "mid"]);
    if (run === 0) {
      // A read buffer's reads ask for 128 KiB at most: 9 of them per MiB.
      // Here even the second message's first read goes into its buffer.
      const reads = scripted.asked.slice(asked);
      assert(reads[0] > 128 << 10, `the next message's start too: ${reads}`);
      // 1.1 MB and a ping in two reads (the buffer has room for the headers).
      assert(reads.length <= 2, `${reads.length} reads: ${reads}`);
    }
    conn.abort();
  }
});

Deno.test("a 1 MiB text message in 4 KiB frames read straight into its buffer fails at its first invalid byte (1007), before the message ends", async () => {
  const text = new Uint8Array(1 << 20).fill(0x61);
  text[600_000] = 0xff;
  const bytes = fragmented(text, 4096, { opcode: Op.Text });
  // The wire ends soon after the bad byte: a reader that waits for the end
  // would fail with `closed` instead.
  const scripted = new ScriptedConn(bytes.subarray(0, 700_000));
  const conn = new Conn(scripted, { role: "server", readLimit: 4 << 20 });
  const err = await assertRejects(() => conn.readMessage(), WebSocketError);
  assertEquals([err.code, err.closeCode], ["invalid_utf8", 1007]);
  const close = parseFrames(concat(...scripted.written)).at(-1)!;
  assertEquals([close.opcode, (close.payload[0] << 8) | close.payload[1]], [
    Op.Close,
    1007,
  ]);
});

Deno.test("read straight into the message buffer: a new message inside one fails (1002); a continuation larger than the buffer's room grows it", async () => {
  const payload = pattern(600_000, 9);
  const bad = fragmented(payload, 4096, {
    after: 100,
    extra: encodeFrame({ opcode: Op.Binary, payload: "new", mask: true }),
  });
  const scripted = new ScriptedConn(bad);
  const conn = new Conn(scripted, { role: "server", readLimit: 4 << 20 });
  const err = await assertRejects(() => conn.readMessage(), WebSocketError);
  assertEquals([err.code, err.closeCode], ["expected_continuation", 1002]);

  const large = pattern(3 << 20, 13);
  const mixed = concat(
    encodeFrame({
      opcode: Op.Binary,
      payload: large.subarray(0, 200_000),
      fin: false,
      mask: true,
    }),
    ...Array.from({ length: 10 }, (_, i) =>
      encodeFrame({
        opcode: Op.Continuation,
        payload: large.subarray(200_000 + i * 4096, 200_000 + (i + 1) * 4096),
        fin: false,
        mask: true,
      })),
    encodeFrame({
      opcode: Op.Continuation,
      payload: large.subarray(200_000 + 40_960),
      mask: true,
    }),
  );
  const grows = new Conn(new ScriptedConn(mixed), {
    role: "server",
    readLimit: 4 << 20,
  });
  assertEquals((await grows.readMessage()).data, large);
  grows.abort();
});

Deno.test("a client reads 1 MiB unmasked messages in 4 KiB frames straight into its buffer over TCP, intact", async () => {
  const { client, server } = await tcpPair();
  const counted = new CountingConn(client);
  const conn = new Conn(counted, { role: "client", readLimit: 4 << 20 });
  try {
    const payloads = [1, 2, 3].map((seed) => pattern(1 << 20, seed));
    const sent = server.write(
      concat(...payloads.map((p) => fragmented(p, 4096, { mask: false }))),
    );
    for (const payload of payloads) {
      assertEquals((await conn.readMessage()).data, payload);
    }
    await sent;
  } finally {
    conn.abort();
    server.close();
  }
});
