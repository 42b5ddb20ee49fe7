/**
 * permessage-deflate: the two engines on a 4 KiB JSON-like message, deflating
 * and inflating measured apart, each with and without context takeover. Without
 * takeover the default engine works on pooled `node:zlib` handles; the rows
 * "a new stream per message" measure what it did before: a `CompressionStream`
 * or `DecompressionStream` made for every message (the engine with takeover,
 * reset after each message).
 *
 * The compressed echo over loopback, against `ws`, is `bench/harness/deflate_echo.ts` and
 * the load runner's S5 scenarios: there the variants take turns, where `deno
 * bench` runs one after the other and load from other processes skews the ratios.
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

/** A row: its name, the engine, the level, and whether it opts out of pooling. */
type Row = [name: string, engine: DeflateEngine, level: number, fresh?: true];

const STREAM = compressionStreamEngine();
const TAKEOVER: Row[] = [
  ["CompressionStream", STREAM, 6],
  ["zlib level 6", zlibEngine(), 6],
  ["zlib level 1", zlibEngine(), 1],
];
const NO_TAKEOVER: Row[] = [
  ["CompressionStream engine (pooled zlib)", STREAM, 6],
  ["a new stream per message", STREAM, 6, true],
  ["zlib level 6", zlibEngine(), 6],
  ["zlib level 1", zlibEngine(), 1],
];

function deflateRows(group: string, rows: Row[], reset: boolean): void {
  for (const [name, engine, level, fresh] of rows) {
    const compressor = engine.compressor({
      level,
      windowBits: 15,
      noContextTakeover: reset && !fresh,
    });
    let i = 0;
    bench({
      name: `${group}: ${name}`,
      group,
      baseline: name === rows[0][0],
      async fn() {
        await compressor.compress(MESSAGES[i++ & 63]);
        if (reset) compressor.reset();
      },
    });
  }
}

// Independent messages (no takeover), so that any order inflates.
const PACKED = await Promise.all(MESSAGES.map(async (m) => {
  const c = zlibEngine().compressor({ level: 6, windowBits: 15 });
  const out = (await c.compress(m)).slice();
  c.close();
  return out.subarray(0, out.length - 4);
}));

function inflateRows(group: string, rows: Row[], reset: boolean): void {
  for (const [name, engine, , fresh] of rows) {
    const inflater = engine.decompressor({
      windowBits: 15,
      noContextTakeover: reset && !fresh,
    });
    const out = new InflateOutput();
    let i = 0;
    bench({
      name: `${group}: ${name.replace(/ level \d$/, "")}`,
      group,
      baseline: name === rows[0][0],
      async fn() {
        out.start(1 << 20);
        await inflater.decompress(PACKED[i++ & 63], true, out);
        if (reset) inflater.reset();
      },
    });
  }
}

deflateRows("deflate 4 KiB JSON, takeover", TAKEOVER, false);
deflateRows("deflate 4 KiB JSON, no takeover", NO_TAKEOVER, true);
inflateRows("inflate 4 KiB JSON, takeover", TAKEOVER.slice(0, 2), false);
inflateRows(
  "inflate 4 KiB JSON, no takeover",
  NO_TAKEOVER.filter((row) => row[3] || row[2] === 6),
  true,
);
