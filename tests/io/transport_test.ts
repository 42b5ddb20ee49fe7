/**
 * ByteSource and ByteSink over each kind of transport: BYOB byte streams, plain
 * streams, `Deno.Conn`-like objects read directly, and a real `Deno.TcpConn`;
 * with cancel, abort, short writes and the small helpers beside them.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import {
  ByteSink,
  ByteSource,
  closeTransport,
  setNoDelay,
  type Transport,
} from "../../src/io/transport.ts";
import { tcpPair } from "../_pair.ts";
import { concat, enc } from "../_wire.ts";

/** A readable that yields `chunks` (copies) then ends; a byte stream when `bytes`. */
function readableOf(
  chunks: Uint8Array[],
  bytes: boolean,
): ReadableStream<Uint8Array> {
  let i = 0;
  if (!bytes) {
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < chunks.length) c.enqueue(chunks[i++].slice());
        else c.close();
      },
    });
  }
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (i < chunks.length) return c.enqueue(chunks[i++].slice());
      c.close();
      c.byobRequest?.respond(0);
    },
  });
}

const never = () => new WritableStream<Uint8Array>();

/** A `Deno.Conn` look-alike: reads hand out `chunks`, writes take at most `cap` bytes. */
class FakeConn implements Transport {
  readonly reads: Uint8Array[] = [];
  readonly written: Uint8Array[] = [];
  closes = 0;
  #chunks: Uint8Array[];
  #cap: number;
  constructor(chunks: Uint8Array[], cap = Infinity) {
    this.#chunks = chunks.map((c) => c.slice());
    this.#cap = cap;
  }
  get readable(): ReadableStream<Uint8Array> {
    return readableOf([enc("from the stream")], true);
  }
  writableChunks: Uint8Array[] = [];
  get writable(): WritableStream<Uint8Array> {
    return new WritableStream({
      write: (c) => void this.writableChunks.push(c.slice()),
    });
  }
  read(p: Uint8Array): Promise<number | null> {
    this.reads.push(p);
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null);
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#chunks.unshift(chunk.subarray(n));
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.#cap);
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  close(): void {
    this.closes++;
    if (this.closes > 1) throw new Deno.errors.BadResource("closed");
  }
}

Deno.test("ByteSource over a byte stream: BYOB reads land in buffer[start..end), which is rebound", async () => {
  const source = new ByteSource(
    { readable: readableOf([enc("abcdef")], true), writable: never() },
    8,
  );
  assertEquals(source.direct, false);
  const before = source.buffer;
  source.buffer.set(enc("xy"));
  assertEquals(await source.read(2, 5), 3);
  assert(source.buffer !== before, "a new view after the BYOB read");
  assertEquals(before.byteLength, 0, "the old view was detached");
  assertEquals(source.buffer.length, 8);
  assertEquals([...source.buffer.subarray(0, 5)], [...enc("xyabc")]);
  assertEquals(await source.read(0), 3);
  assertEquals([...source.buffer.subarray(0, 3)], [...enc("def")]);
  assertEquals(await source.read(0), 0, "the end reads as 0");
  assertEquals(await source.readInto(new Uint8Array(4)), -1, "no direct reads");
});

Deno.test("ByteSource over a plain stream copies chunks in, keeping what does not fit", async () => {
  const readable = readableOf([enc("0123456789"), enc("ab")], false);
  const source = new ByteSource({ readable, writable: never() }, 4);
  const buffer = source.buffer;
  assertEquals(await source.read(1), 3);
  assertStrictEquals(source.buffer, buffer, "no transfer for a plain stream");
  assertEquals([...buffer.subarray(1)], [...enc("012")]);
  assertEquals(await source.read(0, 2), 2);
  assertEquals([...buffer.subarray(0, 2)], [...enc("34")]);
  // The rest of the first chunk is handed back with the lock.
  assertEquals(source.release(), enc("56789"));
  assertEquals(source.release(), null, "only once");
  const reader = readable.getReader();
  assertEquals((await reader.read()).value, enc("ab"));
  assertEquals((await reader.read()).done, true);
});

Deno.test("ByteSource reads a Deno.Conn-like transport directly: the whole buffer or a window of it", async () => {
  const conn = new FakeConn([enc("hello"), enc("world!")]);
  const source = new ByteSource(conn, 8);
  assertEquals(source.direct, true);
  assertEquals(await source.read(0), 5);
  assertStrictEquals(
    conn.reads[0],
    source.buffer,
    "the buffer itself, no view",
  );
  assertEquals(await source.read(5, 7), 2);
  assertEquals(conn.reads[1].length, 2);
  assertEquals(conn.reads[1].byteOffset, 5);
  assertEquals([...source.buffer.subarray(0, 7)], [...enc("hellowo")]);
  const dest = new Uint8Array(10);
  assertEquals(await source.readInto(dest), 4);
  assertStrictEquals(conn.reads[2], dest, "straight into the caller's array");
  assertEquals(await source.readInto(dest), 0, "the end reads as 0");
  assertEquals(await source.read(0), null);
});

Deno.test("ByteSource in byob mode uses the stream even when read() exists", async () => {
  const conn = new FakeConn([enc("direct")]);
  const source = new ByteSource(conn, 32, "byob");
  assertEquals(source.direct, false);
  const n = await source.read(0);
  assertEquals(source.buffer.subarray(0, n!), enc("from the stream"));
  assertEquals(conn.reads.length, 0);
});

Deno.test("ByteSource.cancel() ends a pending BYOB read and cancels the stream", async () => {
  let cancelled: unknown = "not cancelled";
  const readable = new ReadableStream({
    type: "bytes",
    pull: () => new Promise<void>(() => {}),
    cancel: (reason) => void (cancelled = reason),
  });
  const source = new ByteSource({ readable, writable: never() }, 16);
  const pending = source.read(0);
  await new Promise((r) => setTimeout(r, 0));
  source.cancel();
  assertEquals(await pending, 0);
  assertEquals(cancelled, undefined, "the stream's cancel ran");
  // Before any read, cancel() cancels the stream itself.
  let early = false;
  const idle = new ByteSource({
    readable: new ReadableStream({ cancel: () => void (early = true) }),
    writable: never(),
  }, 16);
  idle.cancel();
  await new Promise((r) => setTimeout(r, 0));
  assert(early);
});

Deno.test("ByteSource.cancel() leaves a direct transport alone", async () => {
  const conn = new FakeConn([enc("still here")]);
  const source = new ByteSource(conn, 16);
  source.cancel();
  assertEquals(conn.closes, 0);
  assertEquals(await source.read(0), 10);
});

Deno.test("ByteSink.write() on a direct transport repeats short writes until all is taken", async () => {
  const conn = new FakeConn([], 3);
  const sink = new ByteSink(conn);
  const bytes = enc("0123456789");
  await sink.write(bytes);
  assertEquals(conn.written.map((c) => c.length), [3, 3, 3, 1]);
  assertEquals(concat(...conn.written), bytes);
  assertEquals(
    await sink.writeSome(bytes),
    3,
    "writeSome() reports the short write",
  );
  await sink.close();
  sink.abort();
  assertEquals(conn.closes, 0, "close() and abort() are for streams only");
  assertEquals(conn.writableChunks.length, 0);
});

Deno.test("ByteSink over a stream writes through one writer; close() closes it, abort() aborts it", async () => {
  const got: Uint8Array[] = [];
  let closed = false;
  const sink = new ByteSink({
    readable: readableOf([], true),
    writable: new WritableStream({
      write: (c) => void got.push(c.slice()),
      close: () => void (closed = true),
    }),
  });
  assertEquals(await sink.writeSome(enc("ab")), 2);
  await sink.write(enc("cd"));
  assertEquals(concat(...got), enc("abcd"));
  await sink.close();
  assert(closed);

  let aborted = false;
  const writable = new WritableStream({ abort: () => void (aborted = true) });
  new ByteSink({ readable: readableOf([], true), writable }).abort();
  await new Promise((r) => setTimeout(r, 0));
  assert(aborted, "abort() before any write aborts the stream");
  const failing = new ByteSink({
    readable: readableOf([], true),
    writable: new WritableStream({
      write: () => Promise.reject(new Error("gone")),
    }),
  });
  await assertRejects(() => failing.write(enc("x")), Error, "gone");
  failing.abort(); // on an errored writer: no unhandled rejection
});

Deno.test("ByteSource and ByteSink on a real Deno.TcpConn: direct by default, streams in byob mode", async () => {
  const { client, server } = await tcpPair();
  try {
    const direct = new ByteSource(server, 64);
    assertEquals(direct.direct, true);
    await new ByteSink(client).write(enc("over tcp"));
    let got = 0;
    for (let i = 0; i < 10 && got < 8; i++) got += (await direct.read(got))!;
    assertEquals(direct.buffer.subarray(0, 8), enc("over tcp"));

    const byob = new ByteSource(server, 64, "byob");
    await new ByteSink(client, "byob").write(enc("streamed"));
    const before = byob.buffer;
    let n = 0;
    for (let i = 0; i < 10 && n < 8; i++) n += (await byob.read(n))!;
    assertEquals(byob.buffer.subarray(0, 8), enc("streamed"));
    assertEquals(before.byteLength, 0, "Deno.Conn.readable detaches the view");
    byob.release();
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("closeTransport() closes once and swallows a second close's error", () => {
  const conn = new FakeConn([]);
  closeTransport(conn);
  closeTransport(conn);
  assertEquals(conn.closes, 2);
  closeTransport({ readable: readableOf([], true), writable: never() });
});

Deno.test("setNoDelay() turns Nagle off where it can, and ignores failures", () => {
  const calls: boolean[] = [];
  const t = {
    readable: readableOf([], true),
    writable: never(),
    setNoDelay: (on: boolean) => void calls.push(on),
  };
  setNoDelay(t);
  assertEquals(calls, [true]);
  setNoDelay({
    readable: readableOf([], true),
    writable: never(),
    setNoDelay: () => {
      throw new Deno.errors.BadResource("closed");
    },
  } as Transport);
  setNoDelay({ readable: readableOf([], true), writable: never() });
});
