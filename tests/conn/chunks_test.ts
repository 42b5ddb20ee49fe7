import { assertEquals, assertThrows } from "@std/assert";
import {
  checkDataOpCode,
  checkFragmentSize,
  forEachFragment,
} from "../../src/conn/chunks.ts";
import { OpCode } from "../../mod.ts";

async function* pieces(sizes: number[]): AsyncGenerator<Uint8Array> {
  let n = 0;
  for (const size of sizes) {
    yield Uint8Array.from({ length: size }, () => n++ & 0xff);
  }
}

async function fragments(sizes: number[], size: number) {
  const out: { bytes: number[]; last: boolean }[] = [];
  await forEachFragment(
    pieces(sizes),
    new Uint8Array(size),
    size,
    (p, last) => {
      out.push({ bytes: [...p], last });
      return Promise.resolve();
    },
  );
  return out;
}

Deno.test("forEachFragment cuts any input into full fragments, the last one marked", async () => {
  const got = await fragments([3, 1, 6], 4);
  assertEquals(got, [
    { bytes: [0, 1, 2, 3], last: false },
    { bytes: [4, 5, 6, 7], last: false },
    { bytes: [8, 9], last: true },
  ]);
  // An exact multiple ends with a full fragment, not an empty one (lookahead).
  assertEquals((await fragments([8], 4)).map((f) => [f.bytes.length, f.last]), [
    [4, false],
    [4, true],
  ]);
  // An empty stream is one empty final fragment.
  assertEquals(await fragments([], 4), [{ bytes: [], last: true }]);
  assertEquals(await fragments([0, 0], 4), [{ bytes: [], last: true }]);
});

Deno.test("forEachFragment takes a ReadableStream too, and stops at the source's error", async () => {
  const stream = ReadableStream.from(pieces([5, 5]));
  const seen: number[] = [];
  await forEachFragment(stream, new Uint8Array(4), 4, (p) => {
    seen.push(p.length);
    return Promise.resolve();
  });
  assertEquals(seen, [4, 4, 2]);
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(9);
    throw new Error("source failed");
  }
  const emitted: boolean[] = [];
  const err = await forEachFragment(
    broken(),
    new Uint8Array(4),
    4,
    (_, last) => {
      emitted.push(last);
      return Promise.resolve();
    },
  ).catch((e) => e);
  assertEquals(err.message, "source failed");
  assertEquals(emitted, [false, false]); // never a final fragment
});

Deno.test("checkDataOpCode and checkFragmentSize refuse what no connection can send", () => {
  checkDataOpCode(OpCode.Text);
  checkDataOpCode(OpCode.Binary);
  assertThrows(() => checkDataOpCode(OpCode.Ping as never), TypeError);
  checkFragmentSize(1, 4096);
  checkFragmentSize(4096, 4096);
  for (const bad of [0, 4097, 1.5, NaN]) {
    assertThrows(() => checkFragmentSize(bad, 4096), RangeError);
  }
});
