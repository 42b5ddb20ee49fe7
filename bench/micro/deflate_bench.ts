/**
 * permessage-deflate: the two engines on a 4 KiB JSON-like message, with and
 * without context takeover, and inflating.
 *
 * The compressed echo over loopback, against `ws`, is `bench/harness/deflate_echo.ts`: its
 * variants take turns and it counts CPU time, where `deno bench` runs one after
 * the other and load from other processes skews the ratios.
 *
 * Run with `deno bench -A bench/micro/deflate_bench.ts`
 * (`BENCH_SMOKE=1 deno run -A bench/micro/deflate_bench.ts`: a few iterations each).
 *
 * @module
 */

import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { MESSAGES } from "../_deflate_data.ts";
import { bench } from "./_bench.ts";

const ENGINES: [string, DeflateEngine, number][] = [
  ["CompressionStream", compressionStreamEngine(), 6],
  ["zlib level 6", zlibEngine(), 6],
  ["zlib level 1", zlibEngine(), 1],
];

for (const [name, engine, level] of ENGINES) {
  const compressor = engine.compressor({ level, windowBits: 15 });
  let i = 0;
  bench({
    name: `compress 4 KiB JSON: ${name}`,
    group: "compress",
    baseline: name === "CompressionStream",
    async fn() {
      await compressor.compress(MESSAGES[i++ & 63]);
    },
  });
}

for (const [name, engine, level] of ENGINES) {
  const compressor = engine.compressor({ level, windowBits: 15 });
  let i = 0;
  bench({
    name: `compress 4 KiB JSON, no context takeover: ${name}`,
    group: "compress, no takeover",
    baseline: name === "CompressionStream",
    async fn() {
      await compressor.compress(MESSAGES[i++ & 63]);
      compressor.reset();
    },
  });
}

for (const [name, engine] of ENGINES.slice(0, 2)) {
  // Independent messages (no takeover), so that any order inflates.
  const packed = await Promise.all(MESSAGES.map(async (m) => {
    const c = zlibEngine().compressor({ level: 6, windowBits: 15 });
    const out = (await c.compress(m)).slice();
    c.close();
    return out.subarray(0, out.length - 4);
  }));
  const inflater = engine.decompressor({ windowBits: 15 });
  const out = new InflateOutput();
  let i = 0;
  bench({
    name: `inflate 4 KiB JSON: ${name}`,
    group: "inflate",
    baseline: name === "CompressionStream",
    async fn() {
      out.start(1 << 20);
      await inflater.decompress(packed[i++ & 63], true, out);
    },
  });
}
