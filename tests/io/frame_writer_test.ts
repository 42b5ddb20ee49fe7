/**
 * FrameWriter: frames byte for byte (server) and masked (client) in every size
 * class, scratchpad batching, the high-water mark, the write buffer limit
 * (`write_buffer_full`), short and failed writes, text encoding, raw frames and
 * holds; then, under a `Conn`, replies to messages that arrived in one read go
 * out in one transport write, and a reply is never held back for long when the
 * reader stops reading.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { Conn, OpCode } from "../../mod.ts";
import { WebSocketError } from "../../src/codec/errors.ts";
import { giveBuffer, takeBuffer } from "../../src/io/buffer_pool.ts";
import { FrameWriter, HEADROOM } from "../../src/io/frame_writer.ts";
import { ByteSink, type Transport } from "../../src/io/transport.ts";
import { CountingConn, memoryTransportPair, tcpPair } from "../_pair.ts";
import { rawPeer } from "../_raw_peer.ts";
import { concat, encodeFrame, Op, parseFrames } from "../_wire.ts";

/** A transport whose writes are counted. */
function counting(transport: Transport): Transport & { writes: number } {
  const writer = transport.writable.getWriter();
  const counted = {
    writes: 0,
    readable: transport.readable,
    writable: new WritableStream<Uint8Array>({
      write: (chunk) => {
        counted.writes++;
        return writer.write(chunk);
      },
    }),
  };
  return counted;
}

/** `count` masked binary frames of one byte each (the byte is the index). */
function frames(count: number): Uint8Array {
  const out = new Uint8Array(count * 7);
  for (let i = 0; i < count; i++) {
    out.set([0x82, 0x81, 0, 0, 0, 0, i], i * 7);
  }
  return out;
}

/** Reads from `peer` until `length` bytes came; fails after `ms`. */
async function readBytes(
  peer: Deno.Conn,
  length: number,
  ms: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Nothing for ${ms} ms`)), ms);
  });
  try {
    for (let got = 0; got < length;) {
      const n = await Promise.race([peer.read(out.subarray(got)), timeout]);
      if (n === null) throw new Error("Closed early");
      got += n;
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("echoes of ten messages read at once leave in one write", async () => {
  const pair = memoryTransportPair();
  const client = rawPeer(pair.client);
  const counted = counting(pair.server);
  const conn = new Conn(counted, { role: "server" });
  try {
    await client.write(frames(10));
    for (let i = 0; i < 10; i++) {
      const msg = await conn.readMessage();
      assertEquals([...msg.data], [i]);
      await conn.writeMessage(OpCode.Binary, msg.data);
    }
    const echoed = await readBytes(client, 30, 5000);
    for (let i = 0; i < 10; i++) {
      assertEquals([...echoed.subarray(i * 3, i * 3 + 3)], [0x82, 1, i]);
    }
    assertEquals(counted.writes, 1);
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a reply goes out though the reader stops before the batch ends", async () => {
  const pair = memoryTransportPair();
  const client = rawPeer(pair.client);
  const conn = new Conn(pair.server, { role: "server" });
  try {
    await client.write(frames(3));
    const msg = await conn.readMessage();
    await conn.writeMessage(OpCode.Binary, msg.data);
    // No further read: the reply must not wait for one.
    assertEquals([...await readBytes(client, 3, 5000)], [0x82, 1, 0]);
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a 64 KiB client message leaves in one write, masked intact", async () => {
  const { client, server } = memoryTransportPair();
  const counted = counting(client);
  const sender = new Conn(counted, { role: "client" });
  const receiver = new Conn(server, { role: "server", readLimit: 1 << 20 });
  try {
    const payload = new Uint8Array(65536).map((_, i) => i * 7);
    const [, msg] = await Promise.all([
      sender.writeMessage(OpCode.Binary, payload),
      receiver.readMessage(),
    ]);
    assertEquals(msg.data, payload);
    assertEquals(counted.writes, 1);
  } finally {
    sender.abort();
    receiver.abort();
  }
});

/**
 * A `Deno.Conn`-like sink that records what each write was handed, takes at most
 * `cap` bytes a call, and holds every write while `gated` until `open()`.
 * A write whose bytes changed while it was held counts as `mutated`.
 */
class GatedConn implements Transport {
  readonly handed: Uint8Array[] = [];
  mutated = 0;
  gated: boolean;
  failure: Error | null = null;
  #waiting: (() => void)[] = [];
  #cap: number;
  constructor(options: { gated?: boolean; cap?: number } = {}) {
    this.gated = options.gated ?? false;
    this.#cap = options.cap ?? Infinity;
  }
  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream();
  }
  get writable(): WritableStream<Uint8Array> {
    return new WritableStream();
  }
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  async write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.#cap);
    const copy = p.slice(0, n);
    this.handed.push(copy);
    if (this.gated) await new Promise<void>((r) => this.#waiting.push(r));
    if (this.failure !== null) throw this.failure;
    if (!copy.every((b, i) => b === p[i])) this.mutated++;
    return n;
  }
  close(): void {}
  /** Lets every held write (and later ones) through. */
  open(): void {
    this.gated = false;
    this.#waiting.splice(0).forEach((r) => r());
  }
  bytes(): Uint8Array {
    return concat(...this.handed);
  }
}

function writerOver(
  conn: GatedConn,
  masked: boolean,
  chunkSize = 4096,
  highWaterMark?: number,
  limit?: number,
): FrameWriter {
  return new FrameWriter(
    new ByteSink(conn),
    masked,
    chunkSize,
    highWaterMark,
    limit,
  );
}

function pattern(n: number, seed = 5): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * seed + (i >> 9)) & 0xff);
}

/** Whether `p` has settled after the pending reactions ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

const FIN_BINARY = 0x80 | OpCode.Binary;
const SIZES = [0, 1, 125, 126, 4000, 4096, 4097, 65535, 65536, 300_000];

Deno.test("FrameWriter (server): every size class byte for byte, in order", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, false);
  const payloads = SIZES.map((n, i) => pattern(n, i + 1));
  await Promise.all(payloads.map((p) => writer.write(FIN_BINARY, p)));
  await writer.flush();
  assertEquals(
    conn.bytes(),
    concat(
      ...payloads.map((p) => encodeFrame({ opcode: Op.Binary, payload: p })),
    ),
  );
  assertEquals(writer.bufferedAmount, 0);
});

Deno.test("FrameWriter (client): every size class masked with a fresh key, across pieces too", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, true);
  const sizes = [...SIZES, 600_000];
  const payloads = sizes.map((n, i) => pattern(n, i + 3));
  const copies = payloads.map((p) => p.slice());
  for (const p of payloads) await writer.write(FIN_BINARY, p);
  await writer.flush();
  assertEquals(payloads, copies, "the caller's bytes are left alone");
  const frames = parseFrames(conn.bytes());
  assertEquals(frames.length, sizes.length);
  for (let i = 0; i < sizes.length; i++) {
    assert(frames[i].masked, `frame ${i} masked`);
    assertEquals(frames[i].payload, payloads[i], `size ${sizes[i]}`);
  }
  const keys = new Set(frames.map((f) => f.key!.join(",")));
  assert(keys.size >= sizes.length - 1, "keys change from frame to frame");
});

/** `payload`'s bytes in a buffer with `HEADROOM` zero bytes before them. */
function withHeadroom(payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADROOM + payload.length);
  bytes.set(payload, HEADROOM);
  return bytes.subarray(HEADROOM);
}

Deno.test("FrameWriter.lendHeadroom(): a frame of the lent buffer's bytes gets its header there and leaves in one write, uncopied", async () => {
  for (const size of [5000, 70_000, 300_000]) {
    const conn = new GatedConn();
    const writer = writerOver(conn, false);
    const payload = pattern(size, 9);
    const lent = withHeadroom(payload);
    writer.lendHeadroom(lent);
    await writer.write(FIN_BINARY, lent);
    assertEquals(conn.handed.length, 1, `size ${size}`);
    const frame = encodeFrame({ opcode: Op.Binary, payload });
    assertEquals(conn.bytes(), frame);
    const before = new Uint8Array(lent.buffer, 0, HEADROOM);
    assertEquals(
      before.subarray(HEADROOM - (frame.length - size)),
      frame.subarray(0, frame.length - size),
    );
    assertEquals(lent, payload, "the payload is left as it was");
    // A prefix starts the buffer too; the header length follows its size.
    await writer.write(FIN_BINARY, lent.subarray(0, 4500));
    assertEquals(conn.handed.length, 2);
    assertEquals(
      parseFrames(conn.handed[1])[0].payload,
      payload.subarray(0, 4500),
    );
  }
});

Deno.test("FrameWriter.lendHeadroom(): other bytes, a client's frames and a buffer taken back are framed as ever, the headroom untouched", async () => {
  const payload = pattern(300_000, 13);
  const lent = withHeadroom(payload);
  const zeros = new Uint8Array(HEADROOM);
  const headroom = () => new Uint8Array(lent.buffer, 0, HEADROOM);
  const cases: [string, boolean, Uint8Array, Uint8Array | null][] = [
    ["a view starting later", false, lent.subarray(1), lent],
    ["a copy of the bytes", false, lent.slice(), lent],
    ["a client (masked)", true, lent, lent],
    ["taken back", false, lent, null],
  ];
  for (const [what, masked, bytes, lend] of cases) {
    const conn = new GatedConn();
    const writer = writerOver(conn, masked);
    writer.lendHeadroom(lent);
    writer.lendHeadroom(lend);
    await writer.write(FIN_BINARY, bytes);
    assertEquals(headroom(), zeros, what);
    assertEquals(lent, payload, what);
    const [frame] = parseFrames(conn.bytes());
    assertEquals(frame.payload, bytes, what);
    assertEquals(frame.masked, masked, what);
    if (!masked) {
      assertEquals(conn.handed[0].length, 10, `${what}: the header apart`);
    }
  }
});

Deno.test("FrameWriter: frames written while one write is in flight go out together in the next", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false);
  await writer.write(FIN_BINARY, pattern(10, 1));
  assertEquals(conn.handed.length, 1, "the first frame goes at once");
  for (let i = 2; i <= 11; i++) {
    const w = writer.write(FIN_BINARY, pattern(10, i));
    assert(
      await settled(w),
      "under the high-water mark a write settles at once",
    );
  }
  assertEquals(conn.handed.length, 1, "nothing more while the first is held");
  assertEquals(writer.bufferedAmount, 11 * 12, "eleven frames of 2 + 10 bytes");
  conn.open();
  await writer.flush();
  assertEquals(conn.handed.length, 2, "the ten gathered frames in one write");
  assertEquals(
    conn.handed[1],
    concat(
      ...Array.from(
        { length: 10 },
        (_, i) =>
          encodeFrame({ opcode: Op.Binary, payload: pattern(10, i + 2) }),
      ),
    ),
  );
  assertEquals(
    conn.mutated,
    0,
    "no scratchpad changed while the transport held it",
  );
  assertEquals(writer.bufferedAmount, 0);
});

Deno.test("FrameWriter: past the high-water mark a write waits for the transport", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false, 4096, 100);
  await writer.write(FIN_BINARY, pattern(50)); // in flight
  assert(await settled(writer.write(FIN_BINARY, pattern(50))), "52 bytes wait");
  const over = writer.write(FIN_BINARY, pattern(50)); // 104 > 100
  assertEquals(await settled(over), false, "over the mark: it waits");
  conn.open();
  await over;
  assertEquals(writer.bufferedAmount, 0);
});

Deno.test("FrameWriter: writes that would queue past the limit fail with write_buffer_full (1013)", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false, 1024, 1024, 10_000);
  const big = () => writer.write(FIN_BINARY, pattern(5000));
  const first = big(); // larger than the scratchpad: queued
  const second = big(); // 10,000 bytes wait: at the limit, taken
  const third = big().catch((e) => e);
  const err = await third;
  assertInstanceOf(err, WebSocketError);
  assertEquals([err.code, err.closeCode], ["write_buffer_full", 1013]);
  assert(writer.bufferedAmount >= 10_000, `${writer.bufferedAmount} waiting`);
  assertEquals(writer.error, null, "a refusal does not break the writer");
  conn.open();
  await Promise.all([first, second]);
  await writer.flush();
  assertEquals(writer.bufferedAmount, 0);
  await writer.write(FIN_BINARY, pattern(5000));
  await writer.flush();
  assertEquals(parseFrames(conn.bytes()).map((f) => f.payload.length), [
    5000,
    5000,
    5000,
  ]);
});

Deno.test("FrameWriter: owed frames past the limit: a close is taken, writeLater() takes its payload when its turn comes", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false, 1024, 1024, 10_000);
  const first = writer.write(FIN_BINARY, pattern(5000));
  const second = writer.write(FIN_BINARY, pattern(5000));
  let payload = Uint8Array.of(1);
  const pong = writer.writeLater(0x80 | OpCode.Pong, () => payload.slice());
  payload = Uint8Array.of(2, 2); // replaced before its turn: the later one goes
  const refused = await writer.write(FIN_BINARY, pattern(10)).catch((e) => e);
  assertEquals(refused.code, "write_buffer_full", "the owed pong counts");
  const close = writer.write(0x80 | OpCode.Close, Uint8Array.of(3, 0xe8));
  assert(writer.bufferedAmount >= 10_000 + 125 + 2);
  conn.open();
  await Promise.all([first, second, pong, close]);
  await writer.flush();
  assertEquals(writer.bufferedAmount, 0);
  const out = parseFrames(conn.bytes());
  assertEquals(out.map((f) => f.opcode), [
    Op.Binary,
    Op.Binary,
    Op.Pong,
    Op.Close,
  ]);
  assertEquals(out[2].payload, Uint8Array.of(2, 2));
});

Deno.test("FrameWriter: a writer with everything written gives its scratchpad back to the pool", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, false, 1001); // a size no other test uses
  await writer.write(FIN_BINARY, pattern(10));
  await writer.flush();
  // The pool hands out the scratchpad the frame was assembled in.
  const pooled = takeBuffer(1001 + 14);
  assertEquals(pooled.subarray(0, 12), conn.bytes());
  giveBuffer(pooled);
  await writer.write(FIN_BINARY, pattern(10, 7));
  await writer.flush();
  assertEquals(parseFrames(conn.bytes())[1].payload, pattern(10, 7));
});

Deno.test("FrameWriter.tryWrite(): takes a frame only when nothing waits and it fits", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false, 1024);
  assert(writer.tryWrite(FIN_BINARY, pattern(1000)), "fits");
  assert(writer.tryWrite(FIN_BINARY, pattern(1000)), "the other scratchpad");
  assert(!writer.tryWrite(FIN_BINARY, pattern(1000)), "both full");
  const queued = writer.write(FIN_BINARY, pattern(100));
  assert(!writer.tryWrite(FIN_BINARY, pattern(1)), "a queued write goes first");
  conn.open();
  await queued;
  await writer.flush();
  assertEquals(parseFrames(conn.bytes()).length, 3);
});

Deno.test("FrameWriter: a single write larger than the limit is taken when nothing waits", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, false, 1024, 1024, 1000);
  await writer.write(FIN_BINARY, pattern(50_000));
  assertEquals(parseFrames(conn.bytes())[0].payload, pattern(50_000));
});

Deno.test("FrameWriter: short writes are resumed until every byte is out, in order", async () => {
  for (const masked of [false, true]) {
    const conn = new GatedConn({ cap: 3 });
    const writer = writerOver(conn, masked, 256);
    const payloads = [5, 300, 0, 1000, 17].map((n, i) => pattern(n, i + 1));
    for (const p of payloads) await writer.write(FIN_BINARY, p);
    await writer.flush();
    assert(conn.handed.every((c) => c.length <= 3));
    assertEquals(parseFrames(conn.bytes()).map((f) => f.payload), payloads);
  }
});

Deno.test("FrameWriter: a failed transport write fails that write and every later one with 'closed'", async () => {
  const conn = new GatedConn({ gated: true });
  const writer = writerOver(conn, false);
  const cause = new Deno.errors.ConnectionReset("reset");
  await writer.write(FIN_BINARY, pattern(10));
  const waiting = writer.flush().catch((e) => e);
  conn.failure = cause;
  conn.open();
  const err = await waiting;
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.code, "closed");
  assertStrictEquals(err.cause, cause);
  assertStrictEquals(writer.error, cause);
  const later = await assertRejects(
    () => writer.write(FIN_BINARY, pattern(10)),
    WebSocketError,
  );
  assertStrictEquals((later as WebSocketError).cause, cause);
  await assertRejects(() => writer.writeText(0x81, "x"), WebSocketError);
  await assertRejects(
    () => writer.write(FIN_BINARY, pattern(9000)),
    WebSocketError,
  );
});

Deno.test("FrameWriter.writeText(): UTF-8 as TextEncoder writes it, lone surrogates as U+FFFD", async () => {
  const texts = [
    "",
    "Hello",
    "é".repeat(50), // bound 150 (a 4-byte header), 100 bytes (a 2-byte one)
    "€".repeat(42), // exactly 126 bytes
    "\ud800 lone high, lone low \udc00, pair \ud83d\ude00, end \ud83d",
    "κόσμε 😀 ".repeat(30), // longer than the hand encoder's 256 units
    "x".repeat(2000), // three bytes per unit would not fit the scratchpad
  ];
  for (const masked of [false, true]) {
    const conn = new GatedConn();
    const writer = writerOver(conn, masked, 4096);
    for (const t of texts) await writer.writeText(0x80 | OpCode.Text, t);
    await writer.flush();
    const frames = parseFrames(conn.bytes());
    assertEquals(
      frames.map((f) => f.payload),
      texts.map((t) => new TextEncoder().encode(t)),
    );
    assert(frames.every((f) => f.opcode === 1 && f.fin && f.masked === masked));
    if (!masked) {
      assertEquals(
        conn.bytes(),
        concat(
          ...texts.map((t) => encodeFrame({ opcode: Op.Text, payload: t })),
        ),
        "minimal length forms",
      );
    }
  }
});

Deno.test("FrameWriter.writeRaw(): bytes go out unchanged, unmasked even for a client", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, true, 1024);
  const small = encodeFrame({ opcode: Op.Text, payload: "prepared" });
  const large = encodeFrame({ opcode: Op.Binary, payload: pattern(5000) });
  await writer.writeRaw(small);
  await writer.writeRaw(large);
  await writer.flush();
  assertEquals(conn.bytes(), concat(small, large));
});

Deno.test("FrameWriter.hold(): frames wait until release(), or the next macrotask", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, false);
  writer.hold();
  await writer.write(FIN_BINARY, pattern(3, 1));
  await writer.write(FIN_BINARY, pattern(3, 2));
  assertEquals(conn.handed.length, 0, "held");
  writer.release();
  await writer.flush();
  assertEquals(conn.handed.length, 1, "both in one write");
  writer.hold();
  await writer.write(FIN_BINARY, pattern(3, 3));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(conn.handed.length, 2, "released by the next macrotask");
  // abandonHold() ends the hold without starting a write.
  const quiet = new GatedConn();
  const abandoned = writerOver(quiet, false);
  abandoned.hold();
  await abandoned.write(FIN_BINARY, pattern(3));
  abandoned.abandonHold();
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(quiet.handed.length, 0);
  assertNotEquals(abandoned.bufferedAmount, 0);
});

Deno.test("FrameWriter.hold(): replies to large frames gather in one write, copied at once, up to 128 KiB", async () => {
  const conn = new GatedConn();
  const writer = writerOver(conn, false, 4096);
  writer.hold();
  let done = 0;
  const payloads = [0, 1, 2, 3].map((seed) => pattern(16_384, seed));
  const writes = payloads.map((p) => writer.write(FIN_BINARY, p));
  writes.forEach((w) => w.then(() => done++));
  await Promise.resolve();
  assertEquals([done, conn.handed.length], [4, 0], "taken, none written yet");
  payloads.forEach((p) => p.fill(0)); // the caller may reuse its bytes now
  writer.release();
  await writer.flush();
  assertEquals(conn.handed.length, 1);
  assertEquals(
    parseFrames(conn.bytes()).map((f) => f.payload),
    [0, 1, 2, 3].map((seed) => pattern(16_384, seed)),
  );

  const bounded = new GatedConn();
  const held = writerOver(bounded, false, 4096);
  held.hold();
  await Promise.all(
    Array.from(
      { length: 9 },
      (_, i) => held.write(FIN_BINARY, pattern(16_384, i)),
    ),
  );
  await held.flush();
  const first = parseFrames(bounded.handed[0]);
  assertEquals(first.length, 7, "as many as 128 KiB holds");
  assertEquals(parseFrames(bounded.bytes()).length, 9);
});

Deno.test("sixteen pipelined 16 KiB messages over TCP: four per transport read, their echoes in as few writes", async () => {
  const { client, server } = await tcpPair();
  const counted = new CountingConn(server);
  const conn = new Conn(counted, { role: "server", chunkSize: 4096 });
  try {
    for (let round = 0; round < 4; round++) {
      const payloads = [0, 1, 2, 3].map((i) => pattern(16_384, round * 4 + i));
      await client.write(concat(
        ...payloads.map((payload) =>
          encodeFrame({ opcode: Op.Binary, payload, mask: true })
        ),
      ));
      const [reads, writes] = [counted.reads, counted.writes];
      for (const payload of payloads) {
        const msg = await conn.readMessage();
        assertEquals(msg.data, payload);
        await conn.writeMessage(OpCode.Binary, msg.data);
      }
      const echoed = parseFrames(await readBytes(client, 4 * 16_388, 5000));
      assertEquals(echoed.map((f) => f.payload), payloads);
      // The first round starts in the 128-byte buffer: one read more.
      assert(counted.reads - reads <= (round === 0 ? 2 : 1), `round ${round}`);
      assertEquals(counted.writes - writes, 1, `round ${round}`);
    }
  } finally {
    conn.abort();
    client.close();
  }
});
