import { assert, assertEquals, assertThrows } from "@std/assert";
import { deflateRawSync } from "node:zlib";
import { WebSocketError } from "../../src/codec/errors.ts";
import {
  compressionStreamEngine,
  streamsFlushEachWrite,
} from "../../src/deflate/compression_stream.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";

Deno.test("the runtime's CompressionStream passes the start-up check", async () => {
  assert(await streamsFlushEachWrite());
});

Deno.test("the CompressionStream engine says it cannot limit its window", () => {
  const engine = compressionStreamEngine();
  assertEquals([engine.name, engine.limitsWindow], [
    "CompressionStream",
    false,
  ]);
});

Deno.test("without context takeover the CompressionStream engine compresses each message on its own, at once", async () => {
  const engine = compressionStreamEngine();
  const options = { level: 1, windowBits: 15, noContextTakeover: true };
  const deflater = engine.compressor(options);
  const inflater = engine.decompressor(options);
  const text = new TextEncoder().encode('{"hello":"world"}'.repeat(200));
  const packed: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    const out = deflater.compress(text);
    // No stream behind it: the bytes come back synchronously.
    assert(out instanceof Uint8Array);
    packed.push((out as Uint8Array).slice());
    deflater.reset();
  }
  // Each message afresh (with takeover the second would be a few bytes), and
  // at level 6 whatever the level asked for, as a stream would compress.
  assertEquals(packed[1], packed[0]);
  assertEquals(packed[2], packed[0]);
  const ofStream = await compressionStreamEngine()
    .compressor({ level: 1, windowBits: 15 }).compress(text);
  assertEquals(packed[0], ofStream);
  for (const p of packed) {
    const out = new InflateOutput();
    out.start(1 << 20);
    const done = inflater.decompress(p.subarray(0, p.length - 4), true, out);
    assertEquals(done, undefined);
    assertEquals(out.data, text);
    inflater.reset();
  }
  deflater.close();
  inflater.close();
});

Deno.test("without context takeover the CompressionStream engine's inflater stops a bomb at the limit", () => {
  const inflater = compressionStreamEngine().decompressor({
    windowBits: 15,
    noContextTakeover: true,
  });
  const bomb = deflateRawSync(new Uint8Array(16 << 20));
  const out = new InflateOutput();
  out.start(64 * 1024);
  const err = assertThrows(
    () => inflater.decompress(bomb, true, out),
    WebSocketError,
  );
  assertEquals(err.code, "message_too_big");
  assertEquals(out.length, 64 * 1024);
  // Reset after the failure, the next message inflates.
  const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
  out.start(100);
  inflater.decompress(hello, true, out);
  assertEquals(new TextDecoder().decode(out.data), "Hello");
  inflater.close();
});
