/**
 * FrameReader over chunked input: headers of every length class, payloads of
 * every size class, the stream cut at every offset and fed byte by byte, over
 * direct (`Deno.Conn`-like) and BYOB sources; skip, drain, the end of the
 * stream, and how the read buffer grows.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { WebSocketError } from "../../src/codec/errors.ts";
import { FrameReader, IN_PLACE_MAX } from "../../src/io/frame_reader.ts";
import { ByteSource, type Transport } from "../../src/io/transport.ts";
import { tcpPair } from "../_pair.ts";
import {
  concat,
  encodeFrame,
  type FrameOptions,
  Op,
  xorMask,
} from "../_wire.ts";

type Kind = "direct" | "byob";
const KINDS: Kind[] = ["direct", "byob"];
const KEY = [0x37, 0xfa, 0x21, 0x3d];

/** A `Deno.Conn` look-alike whose reads return `chunks` in order, then the end. */
class ChunkedConn implements Transport {
  /** Every array a read was asked to fill. */
  readonly asked: Uint8Array[] = [];
  #chunks: Uint8Array[];
  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.filter((c) => c.length > 0).map((c) => c.slice());
  }
  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream();
  }
  get writable(): WritableStream<Uint8Array> {
    return new WritableStream();
  }
  #index = 0;
  #offset = 0;
  read(p: Uint8Array): Promise<number | null> {
    this.asked.push(p);
    const chunk = this.#chunks[this.#index];
    if (chunk === undefined) return Promise.resolve(null);
    const n = Math.min(p.length, chunk.length - this.#offset);
    p.set(chunk.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    if (this.#offset === chunk.length) {
      this.#index++;
      this.#offset = 0;
    }
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  close(): void {}
}

/** A byte stream (BYOB reads) yielding `chunks` in order, then the end. */
function byteStream(chunks: Uint8Array[]): Transport {
  const queue = chunks.filter((c) => c.length > 0).map((c) => c.slice());
  let next = 0;
  return {
    readable: new ReadableStream({
      type: "bytes",
      pull(c) {
        const chunk = queue[next++];
        if (chunk !== undefined) return c.enqueue(chunk);
        c.close();
        c.byobRequest?.respond(0);
      },
    }),
    writable: new WritableStream(),
  };
}

function readerOver(
  kind: Kind,
  chunks: Uint8Array[],
  max = 4096,
  head?: Uint8Array,
): FrameReader {
  const transport = kind === "direct"
    ? new ChunkedConn(chunks)
    : byteStream(chunks);
  return new FrameReader(new ByteSource(transport, max, "auto"), max, head);
}

function pattern(n: number, seed = 3): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * seed + (i >> 7)) & 0xff);
}

interface Got {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Reads `count` frames, payloads through takeBuffered() or readPart(), unmasked. */
async function readFrames(reader: FrameReader, count: number): Promise<Got[]> {
  const out: Got[] = [];
  for (let i = 0; i < count; i++) {
    assert((await reader.readHeader()) > 0, "a valid header");
    const h = reader.header;
    const key = h.mask.slice();
    const got = {
      fin: h.fin,
      rsv: h.rsv,
      opcode: h.opcode,
      masked: h.masked,
      payload: new Uint8Array(h.length),
    };
    const view = reader.takeBuffered(h.length);
    if (view !== null) got.payload.set(view);
    else {
      for (let at = 0; at < h.length;) {
        at += await reader.readPart(got.payload, at, h.length - at);
      }
    }
    if (got.masked) xorMask(got.payload, key);
    out.push(got);
  }
  return out;
}

function expected(specs: FrameOptions[]): Got[] {
  return specs.map((s) => ({
    fin: s.fin ?? true,
    rsv: s.rsv ?? 0,
    opcode: s.opcode,
    masked: s.mask !== undefined,
    payload: typeof s.payload === "string"
      ? new TextEncoder().encode(s.payload)
      : s.payload ?? new Uint8Array(0),
  }));
}

/** Frames of every length class, masked and not, with flags that must survive. */
const SIZES = [0, 1, 125, 126, 127, 1000, 65535, 65536, 70_000];
const CLASSES: FrameOptions[] = SIZES.flatMap((n, i) => [
  { opcode: Op.Binary, payload: pattern(n, i + 1) },
  {
    opcode: i % 2 ? Op.Text : Op.Continuation,
    fin: i % 3 !== 0,
    rsv: (i << 4) & 0x70,
    payload: pattern(n, i + 5),
    mask: KEY,
  },
]);

for (const kind of KINDS) {
  Deno.test(`FrameReader (${kind}): every length class, in one chunk`, async () => {
    const reader = readerOver(kind, [concat(...CLASSES.map(encodeFrame))]);
    assertEquals(await readFrames(reader, CLASSES.length), expected(CLASSES));
    assertEquals(reader.buffered, 0);
  });

  Deno.test(`FrameReader (${kind}): the same frames in reads of 1, 7 and 4093 bytes`, async () => {
    const specs = CLASSES;
    const bytes = concat(...specs.map(encodeFrame));
    for (const size of [1, 7, 4093]) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += size) {
        chunks.push(bytes.subarray(at, at + size));
      }
      const reader = readerOver(kind, chunks);
      assertEquals(
        await readFrames(reader, specs.length),
        expected(specs),
        `reads of ${size}`,
      );
    }
  });

  Deno.test(`FrameReader (${kind}): a stream of headers of each size cut in two at every offset`, async () => {
    const specs: FrameOptions[] = [
      { opcode: Op.Text, payload: "Hello" }, // 2-byte header
      { opcode: Op.Ping, payload: "p", mask: KEY }, // 6
      { opcode: Op.Binary, payload: pattern(200), lengthForm: 16 }, // 4
      { opcode: Op.Binary, payload: pattern(130), mask: KEY }, // 8
      { opcode: Op.Text, payload: "x", lengthForm: 64 }, // 10
      { opcode: Op.Close, payload: new Uint8Array([3, 232]), mask: KEY },
      { opcode: Op.Binary, payload: pattern(9), mask: KEY, lengthForm: 64 }, // 14
    ];
    const bytes = concat(...specs.map(encodeFrame));
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = readerOver(kind, [
        bytes.subarray(0, cut),
        bytes.subarray(cut),
      ]);
      assertEquals(
        await readFrames(reader, specs.length),
        expected(specs),
        `cut at ${cut}`,
      );
    }
  });

  Deno.test(`FrameReader (${kind}): skip() discards a payload across reads, then the next frame reads`, async () => {
    const bytes = concat(
      encodeFrame({ opcode: Op.Binary, payload: pattern(10_000) }),
      encodeFrame({ opcode: Op.Text, payload: "after", mask: KEY }),
    );
    const chunks = [bytes.subarray(0, 300), bytes.subarray(300, 5000)];
    chunks.push(bytes.subarray(5000));
    const reader = readerOver(kind, chunks);
    assertEquals(await reader.readHeader(), 4);
    assertEquals(reader.header.length, 10_000);
    await reader.skip(10_000);
    assertEquals(
      await readFrames(reader, 1),
      expected([
        { opcode: Op.Text, payload: "after", mask: KEY },
      ]),
    );
  });

  Deno.test(`FrameReader (${kind}): the end of the stream is a 'closed' error, mid-header or mid-payload`, async () => {
    const whole = encodeFrame({ opcode: Op.Binary, payload: pattern(100) });
    for (const cut of [0, 1, 3, 50]) {
      const reader = readerOver(kind, [whole.subarray(0, cut)]);
      const err = await (async () => {
        await reader.readHeader();
        const dest = new Uint8Array(100);
        for (let at = 0; at < 100;) {
          at += await reader.readPart(dest, at, 100 - at);
        }
      })().catch((e) => e);
      assertInstanceOf(err, WebSocketError, `cut at ${cut}`);
      assertEquals([err.code, err.closeCode], ["closed", 1006]);
    }
    const skipping = readerOver(kind, [whole.subarray(0, 40)]);
    await skipping.readHeader();
    await assertRejects(() => skipping.skip(100), WebSocketError);
  });

  Deno.test(`FrameReader (${kind}): drain() reads to the end of the stream, discarding`, async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => pattern(3000, i));
    const reader = readerOver(kind, [
      encodeFrame({ opcode: Op.Text }),
      ...chunks,
    ]);
    assertEquals(await reader.readHeader(), 2);
    await reader.drain();
    assertEquals(reader.buffered, 0);
    await assertRejects(() => reader.readHeader(), WebSocketError);
  });

  Deno.test(`FrameReader (${kind}): a 64-bit length with the top bit set is -1, nothing consumed`, async () => {
    const bad = new Uint8Array([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    const reader = readerOver(kind, [bad]);
    assertEquals(await reader.readHeader(), -1);
    assertEquals(reader.buffered, 10);
  });
}

Deno.test("FrameReader.tryHeader(): 0 for every incomplete prefix, the size once complete", () => {
  const cases: [FrameOptions, number][] = [
    [{ opcode: Op.Text, payload: "a" }, 2],
    [{ opcode: Op.Text, payload: "a", mask: KEY }, 6],
    [{ opcode: Op.Binary, payload: pattern(126) }, 4],
    [{ opcode: Op.Binary, payload: pattern(126), mask: KEY }, 8],
    [{ opcode: Op.Binary, payload: pattern(65536) }, 10],
    [{ opcode: Op.Binary, payload: pattern(65536), mask: KEY }, 14],
  ];
  for (const [spec, size] of cases) {
    const bytes = encodeFrame(spec);
    for (let n = 0; n < size; n++) {
      const reader = readerOver("direct", [], 4096, bytes.subarray(0, n));
      assertEquals(reader.tryHeader(), 0, `${size}-byte header, ${n} bytes`);
      assertEquals(reader.buffered, n, "nothing consumed");
    }
    const reader = readerOver("direct", [], 70_000, bytes);
    assertEquals(reader.tryHeader(), size);
    assertEquals(reader.header.length, bytes.length - size);
    assertEquals(reader.buffered, bytes.length - size);
  }
});

Deno.test("FrameReader: handshake leftovers are read first; the buffer starts small and grows once filled", async () => {
  const first = encodeFrame({ opcode: Op.Text, payload: "leftover" });
  const big = encodeFrame({ opcode: Op.Binary, payload: pattern(3000) });
  const conn = new ChunkedConn([big]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096, first);
  assertEquals(reader.capacity, 128);
  assertEquals(
    await readFrames(reader, 1),
    expected([
      { opcode: Op.Text, payload: "leftover" },
    ]),
  );
  assertEquals(conn.asked.length, 0, "no read for what was buffered");
  assertEquals(reader.reads, 0);
  assertEquals(await reader.readHeader(), 4);
  assertEquals([reader.reads, reader.filled], [1, true]);
  assertEquals(reader.capacity, 4096, "a full read grows the buffer");
  const payload = new Uint8Array(3000);
  for (let at = 0; at < 3000;) {
    at += await reader.readPart(payload, at, 3000 - at);
  }
  assertEquals(payload, pattern(3000));
  // A head larger than the initial buffer sets its size; a small maximum caps it.
  assertEquals(
    readerOver("direct", [], 4096, new Uint8Array(1000)).capacity,
    1000,
  );
  assertEquals(readerOver("direct", [], 100).capacity, 100);
});

Deno.test("FrameReader.readPart() reads a large remainder straight into the caller's array (direct only)", async () => {
  const payload = pattern(20_000);
  const bytes = encodeFrame({ opcode: Op.Binary, payload });
  const header = bytes.subarray(0, 4);
  for (const kind of KINDS) {
    const conn = new ChunkedConn([header, bytes.subarray(4)]);
    const transport = kind === "direct"
      ? conn
      : byteStream([header, bytes.subarray(4)]);
    const reader = new FrameReader(new ByteSource(transport, 1024), 1024);
    assertEquals(await reader.readHeader(), 4);
    const dest = new Uint8Array(20_000);
    const first = await reader.readPart(dest, 0, 20_000);
    if (kind === "direct") {
      assertEquals(first, 20_000, "one read, no buffer in between");
      assertStrictEquals(conn.asked.at(-1)!.buffer, dest.buffer);
    } else {
      assert(first <= 1024, "through the read buffer");
    }
    for (let at = first; at < 20_000;) {
      at += await reader.readPart(dest, at, 20_000 - at);
    }
    assertEquals(dest, payload, kind);
  }
});

Deno.test("FrameReader.readDirect(): -1 on a stream source, 'closed' at the end of a direct one", async () => {
  const byob = new FrameReader(new ByteSource(byteStream([]), 64), 64);
  assertEquals(byob.direct, false);
  assertEquals(await byob.readDirect(new Uint8Array(8), 0, 8), -1);
  const direct = new FrameReader(
    new ByteSource(new ChunkedConn([new Uint8Array([9, 8, 7])]), 64),
    64,
  );
  assertEquals(direct.direct, true);
  const dest = new Uint8Array(8);
  assertEquals(await direct.readDirect(dest, 2, 6), 3);
  assertEquals([...dest], [0, 0, 9, 8, 7, 0, 0, 0]);
  assertEquals(direct.reads, 1);
  await assertRejects(() => direct.readDirect(dest, 0, 8), WebSocketError);
});

Deno.test("FrameReader.takeBuffered(): null until all is buffered; the same view for the same spot", async () => {
  const a = encodeFrame({ opcode: Op.Binary, payload: pattern(10, 1) });
  const b = encodeFrame({ opcode: Op.Binary, payload: pattern(10, 2) });
  const reader = readerOver("direct", [a, b]);
  assertEquals(await reader.readHeader(), 2);
  const first = reader.takeBuffered(10)!;
  assertEquals(first, pattern(10, 1));
  assertEquals(await reader.readHeader(), 2);
  const second = reader.takeBuffered(10)!;
  assertStrictEquals(
    second,
    first,
    "one view reused, valid until the next read",
  );
  assertEquals(second, pattern(10, 2));
  const partial = readerOver("direct", [a.subarray(0, 6)]);
  await partial.readHeader();
  assertEquals(partial.takeBuffered(10), null);
  assertEquals(partial.buffered, 4, "nothing consumed");
});

Deno.test("FrameReader.commit(): the end (null or 0) throws 'closed'", () => {
  const reader = readerOver("direct", []);
  for (const n of [null, 0]) {
    const err = assertThrows(() => reader.commit(n), WebSocketError);
    assertEquals(err.code, "closed");
  }
});

Deno.test("FrameReader over a socket: grows to the chunk for a burst, and back to 128 bytes once reads are small again", async () => {
  const tcp = await tcpPair();
  const frames = new FrameReader(new ByteSource(tcp.server, 0), 4096);
  assertEquals(frames.capacity, 128);
  const burst = new Uint8Array(3000).fill(1);
  await tcp.client.write(burst);
  let got = 0;
  while (got < burst.length) {
    frames.commit(await frames.fill());
    got += frames.skipBuffered(frames.buffered);
  }
  assertEquals(frames.capacity, 4096, "grown when a read filled 128 bytes");
  // The burst's last read may have been large: a small one after it ends it.
  await tcp.client.write(Uint8Array.of(1, 2, 3));
  frames.commit(await frames.fill());
  assertEquals(frames.skipBuffered(frames.buffered), 3);
  assertEquals(frames.capacity, 4096);
  const pending = frames.fill();
  assertEquals(frames.capacity, 128, "an idle read waits in 128 bytes");
  tcp.client.close();
  assertEquals(await pending, null);
  tcp.server.close();
});

/** A ChunkedConn whose reads, once its chunks are spent, wait until `end()`. */
class PausingConn extends ChunkedConn {
  #left: number;
  #ends: (() => void)[] = [];
  constructor(chunks: Uint8Array[]) {
    super(chunks);
    this.#left = chunks.reduce((sum, c) => sum + c.length, 0);
  }
  override read(p: Uint8Array): Promise<number | null> {
    if (this.#left > 0) {
      return super.read(p).then((n) => {
        this.#left -= n ?? 0;
        return n;
      });
    }
    this.asked.push(p);
    return new Promise((resolve) => this.#ends.push(() => resolve(null)));
  }
  /** Ends the waiting reads. */
  end(): void {
    this.#ends.splice(0).forEach((end) => end());
  }
}

/** Reads `count` whole frames of `length` bytes in place, as the message reader does. */
async function readWhole(
  reader: FrameReader,
  count: number,
  length: number,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    let size = reader.tryHeader();
    if (size === 0) size = await reader.readHeader();
    assert(reader.reserve(length), "room for the frame");
    let view = reader.takeBuffered(length);
    while (view === null) {
      reader.commit(await reader.fill());
      view = reader.takeBuffered(length);
    }
    out.push(view.slice());
  }
  return out;
}

const FOUR_16K = concat(
  ...[1, 2, 3, 4].map((seed) =>
    encodeFrame({ opcode: Op.Binary, payload: pattern(16_384, seed) })
  ),
);

Deno.test("FrameReader.reserve(): four pipelined 16 KiB frames come in two transport reads, in place", async () => {
  const conn = new ChunkedConn([FOUR_16K]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096);
  const got = await readWhole(reader, 4, 16_384);
  assertEquals(got, [1, 2, 3, 4].map((seed) => pattern(16_384, seed)));
  // 128 bytes (full: more waits), then everything else into a burst buffer.
  assertEquals(conn.asked.map((p) => p.length), [128, 128 * 1024 - 124]);
  assertEquals(reader.capacity, 128 * 1024);
});

Deno.test("FrameReader.reserve(): one frame's room when no more input waits; false past IN_PLACE_MAX or over a stream", async () => {
  const frame = encodeFrame({ opcode: Op.Binary, payload: pattern(16_384) });
  const conn = new ChunkedConn([frame.subarray(0, 100), frame.subarray(100)]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096);
  assertEquals(await reader.readHeader(), 4);
  assertEquals(reader.filled, false);
  assert(reader.reserve(16_384));
  assertEquals(reader.capacity, 32 * 1024, "pooled size of one frame");
  assertEquals(reader.buffered, 96, "the partial payload is kept");
  assertEquals(reader.reserve(IN_PLACE_MAX + 1), false);
  const byob = new FrameReader(new ByteSource(byteStream([frame]), 4096), 4096);
  assertEquals(await byob.readHeader(), 4);
  assertEquals(byob.reserve(16_384), false, "a BYOB read transfers its buffer");
});

Deno.test("FrameReader: after a burst the next read waits in the grown buffer; after a tiny read, in 128 bytes", async () => {
  const tiny = encodeFrame({ opcode: Op.Binary, payload: pattern(10) });
  const conn = new PausingConn([FOUR_16K]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096);
  await readWhole(reader, 4, 16_384);
  const waiting = reader.fill();
  assertEquals(conn.asked.at(-1)!.length, 128 * 1024, "streaming: kept");
  conn.end();
  reader.settle();
  assertEquals(await waiting, null);

  const again = new PausingConn([FOUR_16K, tiny]);
  const r = new FrameReader(new ByteSource(again, 4096), 4096);
  await readWhole(r, 4, 16_384);
  assertEquals(await readWhole(r, 1, 10), [pattern(10)]);
  const idle = r.fill();
  assertEquals(again.asked.at(-1)!.length, 128, "quiet: the small buffer");
  again.end();
  assertEquals(await idle, null);
});

Deno.test("FrameReader: waiting reads hold at most 8 MiB of grown buffers per process", async () => {
  const conns = Array.from({ length: 66 }, () => new PausingConn([FOUR_16K]));
  const readers = conns.map((c) =>
    new FrameReader(new ByteSource(c, 4096), 4096)
  );
  for (const r of readers) await readWhole(r, 4, 16_384);
  const waits = readers.map((r) => r.fill());
  const sizes = conns.map((c) => c.asked.at(-1)!.length);
  assertEquals(sizes.filter((n) => n === 128 * 1024).length, 64);
  assertEquals(sizes.filter((n) => n === 128).length, 2);
  conns.forEach((c) => c.end());
  readers.forEach((r) => assertThrows(() => r.commit(null), WebSocketError));
  await Promise.all(waits);
  // The budget is free again once those reads completed.
  const next = new PausingConn([FOUR_16K]);
  const reader = new FrameReader(new ByteSource(next, 4096), 4096);
  await readWhole(reader, 4, 16_384);
  const wait = reader.fill();
  assertEquals(next.asked.at(-1)!.length, 128 * 1024);
  next.end();
  assertThrows(() => reader.commit(null), WebSocketError);
  await wait;
});

Deno.test("FrameReader.reserve(): a frame whose header ended a tiny read keeps its room while its payload comes", async () => {
  const first = encodeFrame({ opcode: Op.Binary, payload: pattern(16_000) });
  const second = encodeFrame({
    opcode: Op.Binary,
    payload: pattern(16_000, 7),
  });
  const conn = new ChunkedConn([
    first, // grows the buffer past the chunk for the frame
    second.subarray(0, 4), // a tiny read: the next header only
    second.subarray(4),
  ]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096);
  assertEquals(await readWhole(reader, 1, 16_000), [pattern(16_000)]);
  assertEquals(await readWhole(reader, 1, 16_000), [pattern(16_000, 7)]);
  assert(conn.asked.at(-1)!.length > 16_000, "waited in the grown one");
});

Deno.test("FrameReader.widen(): a payload going on past a full buffer grows it to a burst buffer; not after a short read, nor over a stream", async () => {
  const frames = concat(
    ...[1, 2, 3, 4].map((seed) =>
      encodeFrame({ opcode: Op.Binary, payload: pattern(4096, seed) })
    ),
  );
  const conn = new ChunkedConn([frames]);
  const reader = new FrameReader(new ByteSource(conn, 4096), 4096);
  await reader.readHeader();
  assertEquals(reader.capacity, 4096, "a full 128-byte read took a chunk");
  reader.widen(4096, 1 << 20);
  assertEquals(reader.capacity, 128 * 1024);
  const rest = new Uint8Array(frames.length - 4);
  let got = reader.copyAvailable(rest, 0, rest.length);
  while (got < rest.length) {
    reader.commit(await reader.fill());
    got += reader.copyAvailable(rest, got, rest.length - got);
  }
  assertEquals(rest, frames.subarray(4), "the buffered bytes moved intact");
  // 128 bytes (full: more waits), then the rest in one read, not four.
  assertEquals(conn.asked.map((p) => p.length), [128, 128 * 1024]);

  const short = new ChunkedConn([frames.subarray(0, 100)]);
  const quiet = new FrameReader(new ByteSource(short, 4096), 4096);
  await quiet.readHeader();
  quiet.widen(4096, 1 << 20);
  assertEquals(quiet.capacity, 128, "the read did not fill the buffer");

  const overStream = new FrameReader(
    new ByteSource(byteStream([frames]), 4096),
    4096,
  );
  await overStream.readHeader();
  const before = overStream.capacity;
  overStream.widen(4096, 1 << 20);
  assertEquals(overStream.capacity, before, "a BYOB read transfers its buffer");
});
