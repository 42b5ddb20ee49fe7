/**
 * Both DEFLATE engines against the RFC 7692 §7.2.3 examples, round trips, the
 * read limit and broken input.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { WebSocketError } from "../../src/codec/errors.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { dec, enc, hex } from "../_wire.ts";
import { jsonish, random } from "./_payloads.ts";

const HELLO = enc("Hello");

const ENGINES: DeflateEngine[] = [compressionStreamEngine(), zlibEngine()];

/** Strips the sync trailer, as a sender does. */
function strip(b: Uint8Array): Uint8Array {
  return b.subarray(0, b.length - 4);
}

async function inflate(
  engine: DeflateEngine,
  messages: Uint8Array[],
  limit = 1 << 20,
): Promise<string[]> {
  const d = engine.decompressor({ windowBits: 15 });
  const out = new InflateOutput();
  const texts: string[] = [];
  try {
    for (const m of messages) {
      out.start(limit);
      await d.decompress(m, true, out);
      texts.push(dec(out.data));
    }
  } finally {
    d.close();
  }
  return texts;
}

for (const engine of ENGINES) {
  const name = engine.name;

  Deno.test(`${name}: RFC 7692 §7.2.3.1-2, "Hello" then "Hello" with context takeover`, async () => {
    const c = engine.compressor({ level: 6, windowBits: 15 });
    assertEquals(
      strip(await c.compress(HELLO)),
      hex("f2 48 cd c9 c9 07 00"),
    );
    assertEquals(strip(await c.compress(HELLO)), hex("f2 00 11 00 00"));
    c.close();
  });

  Deno.test(`${name}: reset() starts a fresh context (no_context_takeover)`, async () => {
    const c = engine.compressor({ level: 6, windowBits: 15 });
    await c.compress(HELLO);
    c.reset();
    assertEquals(
      strip(await c.compress(HELLO)),
      hex("f2 48 cd c9 c9 07 00"),
    );
    c.close();
  });

  Deno.test(`${name}: inflates every RFC 7692 §7.2.3 example`, async () => {
    assertEquals(
      await inflate(engine, [
        hex("f2 48 cd c9 c9 07 00"), // 7.2.3.1
        hex("f2 00 11 00 00"), // 7.2.3.2, the same "Hello" with takeover
      ]),
      ["Hello", "Hello"],
    );
    // 7.2.3.3: a stored block; 7.2.3.5: two blocks in one message.
    assertEquals(
      await inflate(engine, [
        hex("00 05 00 fa ff 48 65 6c 6c 6f 00"),
        hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
      ]),
      ["Hello", "Hello"],
    );
    // 7.2.3.6: an empty message, then one more.
    assertEquals(
      await inflate(engine, [hex("00"), hex("f2 48 cd c9 c9 07 00")]),
      ["", "Hello"],
    );
  });

  Deno.test(`${name}: a peer's final (BFINAL) block ends its stream, not the connection`, async () => {
    // 7.2.3.4: "Hello" in a final block, twice; then a sync-flushed message.
    assertEquals(
      await inflate(engine, [
        hex("f3 48 cd c9 c9 07 00"),
        hex("f3 48 cd c9 c9 07 00"),
        hex("f2 48 cd c9 c9 07 00"),
        hex("f2 00 11 00 00"),
      ]),
      ["Hello", "Hello", "Hello", "Hello"],
    );
  });

  Deno.test(`${name}: data after a final block is invalid compressed data`, async () => {
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    out.start(1024);
    const err = await assertRejects(
      async () =>
        await d.decompress(hex("f3 48 cd c9 c9 07 00 01 02"), true, out),
      WebSocketError,
    );
    assertEquals(err.code, "invalid_compressed_data");
    d.close();
  });

  Deno.test(`${name}: corrupt data fails with 1007, then the inflater starts afresh`, async () => {
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    out.start(1024);
    const err = await assertRejects(
      async () => await d.decompress(hex("ff ff ff ff 00"), true, out),
      WebSocketError,
    );
    assertEquals([err.code, err.closeCode], ["invalid_compressed_data", 1007]);
    out.start(1024);
    await d.decompress(hex("f2 48 cd c9 c9 07 00"), true, out);
    assertEquals(dec(out.data), "Hello");
    d.close();
  });

  Deno.test(`${name}: round trips with context takeover, from empty to 1 MiB`, async () => {
    const c = engine.compressor({ level: 6, windowBits: 15 });
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    const sizes = [0, 0, 1, 5, 200, 4096, 16383, 16384, 65536, 70001, 1 << 20];
    let seed = 1;
    for (const size of sizes) {
      for (const input of [jsonish(size, seed), random(size, seed)]) {
        seed++;
        const packed = await c.compress(input);
        // Our compressor flushes every message: never a final block.
        if (packed.length > 0) {
          assertEquals([...packed.subarray(-4)], [0, 0, 255, 255]);
        }
        out.start(2 << 20);
        await d.decompress(strip(packed), true, out);
        assertEquals(out.length, input.length, `size ${size}`);
        assert(out.data.every((b, i) => b === input[i]), `size ${size}`);
      }
    }
    c.close();
    d.close();
  });

  Deno.test(`${name}: output is plain DEFLATE that zlib inflates`, async () => {
    const c = engine.compressor({ level: 6, windowBits: 15 });
    const input = jsonish(100_000);
    const packed = await c.compress(input);
    const back = inflateRawSync(packed, {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    assertEquals(back.length, input.length);
    c.close();
  });

  Deno.test(`${name}: a decompression bomb stops at the read limit (1009)`, async () => {
    const bomb = deflateRawSync(new Uint8Array(16 << 20));
    assert(bomb.length < 20_000);
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    const limit = 1 << 20;
    out.start(limit);
    const err = await assertRejects(
      async () => await d.decompress(bomb, true, out),
      WebSocketError,
    );
    assertEquals([err.code, err.closeCode], ["message_too_big", 1009]);
    assert(out.buffer.length <= limit, `buffer grew to ${out.buffer.length}`);
    d.close();
  });

  Deno.test(`${name}: exactly the read limit is allowed, one byte more is not`, async () => {
    const input = jsonish(10_000);
    const packed = strip(
      deflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH }),
    );
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    out.start(input.length);
    await d.decompress(packed, true, out);
    assertEquals(out.length, input.length);
    out.start(input.length - 1);
    await assertRejects(
      async () => await d.decompress(packed, true, out),
      WebSocketError,
      "read limit",
    );
    d.close();
  });

  Deno.test(`${name}: the caller's buffer too small is buffer_too_small (1009)`, async () => {
    const d = engine.decompressor({ windowBits: 15 });
    const out = new InflateOutput();
    out.start(1 << 20, new Uint8Array(3));
    const err = await assertRejects(
      async () => await d.decompress(hex("f2 48 cd c9 c9 07 00"), true, out),
      WebSocketError,
    );
    assertEquals([err.code, err.closeCode], ["buffer_too_small", 1009]);
    const buf = new Uint8Array(5);
    out.start(1 << 20, buf);
    await d.decompress(hex("f2 48 cd c9 c9 07 00"), true, out);
    assertEquals(out.data, buf);
    assertEquals(dec(buf), "Hello");
    d.close();
  });
}
