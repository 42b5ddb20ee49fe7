/**
 * Canaries: runtime behaviours the library relies on or works around, none of them
 * specified. A Deno upgrade that changes one fails here, loudly, instead of
 * somewhere deep in a connection.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { constants, createDeflateRaw } from "node:zlib";
import { hex } from "../_wire.ts";

const HELLO = new TextEncoder().encode("Hello");
const SYNC = [0x00, 0x00, 0xff, 0xff];

/** A transform stream with a read always pending, collecting chunks. */
function drive(stream: CompressionStream | DecompressionStream) {
  const writer = stream.writable.getWriter() as WritableStreamDefaultWriter<
    Uint8Array
  >;
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  const pull = (): void => {
    reader.read().then((r) => {
      if (r.done) return;
      chunks.push(r.value);
      pull();
    }, () => {});
  };
  pull();
  return {
    chunks,
    write: (b: Uint8Array) => writer.write(b),
    take: () => chunks.splice(0),
    close: () => {
      writer.abort().catch(() => {});
      reader.cancel().catch(() => {});
    },
  };
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

const tail = (b: Uint8Array) => [...b.subarray(b.length - 4)];

Deno.test("canary: CompressionStream deflate-raw sync-flushes each write as one chunk (RFC 7692 §7.2.3.1-2 bytes)", async () => {
  const s = drive(new CompressionStream("deflate-raw"));
  await s.write(HELLO);
  assertEquals(s.take(), [hex("f2 48 cd c9 c9 07 00 00 00 ff ff")]);
  await s.write(HELLO);
  assertEquals(s.take(), [hex("f2 00 11 00 00 00 00 ff ff")]);
  // An empty write still emits an empty stored block.
  await s.write(new Uint8Array(0));
  assertEquals(s.take(), [hex("00 00 00 ff ff")]);
  s.close();
});

Deno.test("canary: a 64 KiB write holds output back until the next (empty) write", async () => {
  const s = drive(new CompressionStream("deflate-raw"));
  await s.write(random(16 * 1024));
  const small = s.take();
  assertEquals(small.length, 1);
  assertEquals(tail(small[0]), SYNC, "16 KiB is flushed whole");
  await s.write(random(64 * 1024));
  const big = s.take();
  assertEquals(big.length, 1);
  assert(
    tail(big[0]).join() !== SYNC.join(),
    "64 KiB of random bytes is not flushed whole by its own write",
  );
  await s.write(new Uint8Array(0));
  const rest = s.take();
  assertEquals(rest.length, 1);
  assertEquals(tail(rest[0]), SYNC, "the empty write forces the rest out");
  s.close();
});

Deno.test("canary: a DecompressionStream write with no output emits no chunk but settles", async () => {
  const s = drive(new DecompressionStream("deflate-raw"));
  await s.write(hex("f2 48 cd c9 c9 07 00 00 00 ff ff"));
  assertEquals(s.take(), [HELLO]);
  // RFC 7692 §7.2.3.6: an empty message is "00", plus the appended trailer.
  await s.write(hex("00 00 00 ff ff"));
  assertEquals(s.take(), []);
  s.close();
});

Deno.test("canary: a write's promise does not settle until the readable side is read", async () => {
  const cs = new CompressionStream("deflate-raw");
  const writer = cs.writable.getWriter();
  let settled = false;
  const written = writer.write(HELLO).then(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(settled, false);
  const reader = cs.readable.getReader();
  const { value } = await reader.read();
  await written;
  assertEquals(tail(value!), SYNC);
  await reader.cancel();
});

Deno.test("canary: DecompressionStream rejects input after a final (BFINAL) block", async () => {
  const s = drive(new DecompressionStream("deflate-raw"));
  // RFC 7692 §7.2.3.4: "Hello" in a final block.
  await s.write(hex("f3 48 cd c9 c9 07 00"));
  assertEquals(s.take(), [HELLO]);
  // The engine tells this rejection apart by its message.
  await assertRejects(
    () => s.write(new Uint8Array(SYNC)),
    TypeError,
    "failed to write whole buffer",
  );
  s.close();
});

Deno.test("canary: a corrupt stream is rejected with another message", async () => {
  const s = drive(new DecompressionStream("deflate-raw"));
  const err = await assertRejects(() => s.write(hex("ff ff ff ff")), TypeError);
  assert(!/whole buffer/.test((err as Error).message));
  s.close();
});

Deno.test("canary: a BYOB read on Deno.Conn.readable detaches the view and returns a new ArrayBuffer", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  try {
    await client.write(HELLO);
    const reader = server.readable.getReader({ mode: "byob" });
    const view = new Uint8Array(64);
    const before = view.buffer;
    const { value } = await reader.read(view);
    assertEquals(view.byteLength, 0, "the passed view is detached");
    if (value === undefined) throw new Error("No bytes read");
    assert(value.buffer !== before, "the bytes come back in a new ArrayBuffer");
    assertEquals(value.buffer.byteLength, 64);
    assertEquals(value, HELLO);
    reader.releaseLock();
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("canary: node:zlib streams expose a synchronous native handle", () => {
  const stream = createDeflateRaw() as unknown as {
    _handle: {
      writeSync: (...args: unknown[]) => void;
      close(): void;
    };
    _writeState: Uint32Array;
  };
  const out = new Uint8Array(64);
  stream._handle.writeSync(
    constants.Z_SYNC_FLUSH,
    HELLO,
    0,
    HELLO.length,
    out,
    0,
    out.length,
  );
  const produced = out.length - stream._writeState[0];
  assertEquals(
    out.subarray(0, produced),
    hex("f2 48 cd c9 c9 07 00 00 00 ff ff"),
  );
  stream._handle.close();
});
