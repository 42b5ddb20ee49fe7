import { assertEquals } from "@std/assert";
import { isValidUtf8 } from "../../mod.ts";
import { encodeUtf8Into, Utf8Validator } from "../../src/codec/utf8.ts";
import { enc } from "../_wire.ts";

const VALID: [string, number[]][] = [
  ["empty", []],
  ["ASCII", [0x48, 0x69]],
  ["2-byte", [0xc2, 0x80]],
  ["3-byte", [0xe2, 0x82, 0xac]],
  ["4-byte", [0xf0, 0x9f, 0x98, 0x80]],
  ["U+10FFFF", [0xf4, 0x8f, 0xbf, 0xbf]],
  ["U+D7FF", [0xed, 0x9f, 0xbf]],
  ["U+E000", [0xee, 0x80, 0x80]],
  ["U+FFFD", [0xef, 0xbf, 0xbd]],
  ["κόσμε", [...enc("κόσμε")]],
];

// Each invalid input with the index of the first byte that must be refused.
const INVALID: [string, number[], number][] = [
  ["lone continuation", [0x80], 0],
  ["overlong 2-byte", [0xc0, 0xaf], 0],
  ["overlong C1", [0xc1, 0xbf], 0],
  ["overlong 3-byte", [0xe0, 0x80, 0xaf], 1],
  ["overlong 4-byte", [0xf0, 0x80, 0x80, 0xaf], 1],
  ["surrogate D800", [0xed, 0xa0, 0x80], 1],
  ["surrogate DFFF", [0xed, 0xbf, 0xbf], 1],
  ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 1],
  ["F5 lead", [0xf5, 0x80, 0x80, 0x80], 0],
  ["5-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
  ["6-byte form", [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0],
  ["FE", [0xfe], 0],
  ["FF", [0xff], 0],
  ["truncated then ASCII", [0xe2, 0x82, 0x41], 2],
  ["κόσμε then bad", [
    0xce,
    0xba,
    0xe1,
    0xbd,
    0xb9,
    0xcf,
    0x83,
    0xce,
    0xbc,
    0xce,
    0xb5,
    0xed,
    0xa0,
    0x80,
    0x65,
    0x64,
    0x69,
    0x74,
    0x65,
    0x64,
  ], 12],
];

Deno.test("isValidUtf8() accepts well-formed UTF-8", () => {
  for (const [name, bytes] of VALID) {
    assertEquals(isValidUtf8(new Uint8Array(bytes)), true, name);
  }
});

Deno.test("isValidUtf8() refuses overlongs, surrogates, > U+10FFFF and bad bytes", () => {
  for (const [name, bytes] of INVALID) {
    assertEquals(isValidUtf8(new Uint8Array(bytes)), false, name);
  }
  assertEquals(isValidUtf8(new Uint8Array([0xe2, 0x82])), false, "truncated");
});

Deno.test("Utf8Validator fails at the first bad byte, fed one byte at a time", () => {
  for (const [name, bytes, at] of INVALID) {
    const v = new Utf8Validator();
    let failedAt = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (!v.push(new Uint8Array(bytes), i, i + 1)) {
        failedAt = i;
        break;
      }
    }
    assertEquals(failedAt, at, name);
  }
});

Deno.test("Utf8Validator accepts valid text split at every offset", () => {
  const text = enc("Hello-µ@ßöäüàá-UTF-8!! κόσμε 😀 𝄞");
  for (let cut = 0; cut <= text.length; cut++) {
    const v = new Utf8Validator();
    assertEquals(v.push(text, 0, cut), true);
    assertEquals(v.push(text, cut, text.length), true);
    assertEquals(v.complete, true);
  }
});

Deno.test("Utf8Validator agrees with a fatal TextDecoder on 20,000 random inputs", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let seed = 42;
  const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0);
  for (let i = 0; i < 20_000; i++) {
    const n = rand() % 12;
    const bytes = new Uint8Array(n);
    // Bias towards interesting lead and continuation bytes.
    for (let j = 0; j < n; j++) {
      const r = rand();
      bytes[j] = r % 3 === 0 ? 0x80 + (r >>> 8) % 64 : (r >>> 8) & 0xff;
    }
    let expected = true;
    try {
      decoder.decode(bytes);
    } catch {
      expected = false;
    }
    assertEquals(isValidUtf8(bytes), expected, `${[...bytes]}`);
  }
});

Deno.test("Utf8Validator checks what follows or precedes ASCII runs of every length, whole and split", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const samples = [...VALID, ...INVALID].map((sample) => sample[1]);
  const after = new Array(10).fill(0x62);
  for (let run = 0; run <= 20; run++) {
    for (const sample of samples) {
      const bytes = new Uint8Array([
        ...new Array(run).fill(0x61),
        ...sample,
        ...after,
      ]);
      let expected = true;
      try {
        decoder.decode(bytes);
      } catch {
        expected = false;
      }
      assertEquals(isValidUtf8(bytes), expected, `${run}: ${sample}`);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const v = new Utf8Validator();
        const ok = v.push(bytes, 0, cut) && v.push(bytes, cut) && v.complete;
        assertEquals(ok, expected, `${run}: ${sample} cut at ${cut}`);
      }
    }
  }
});

Deno.test("Utf8Validator checks long ASCII runs word-wise at every alignment and finds the one bad byte", () => {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const samples = [...VALID, ...INVALID].map((sample) => sample[1]);
  const backing = new Uint8Array(400);
  for (const run of [63, 64, 65, 100, 131, 200]) {
    for (let offset = 0; offset < 4; offset++) {
      for (const sample of samples) {
        // A long run, the sample, another long run (re-entering the fast path).
        const length = run + sample.length + run;
        const bytes = backing.subarray(offset, offset + length);
        bytes.fill(0x61);
        bytes.set(sample, run);
        let expected = true;
        try {
          decoder.decode(bytes);
        } catch {
          expected = false;
        }
        const where = `run ${run}, offset ${offset}, sample ${sample}`;
        assertEquals(isValidUtf8(bytes), expected, where);
        const v = new Utf8Validator();
        const cut = run + 1;
        const ok = v.push(bytes, 0, cut) && v.push(bytes, cut) && v.complete;
        assertEquals(ok, expected, `${where}, split`);
      }
      // One high bit anywhere in a long ASCII text is an error.
      const bytes = backing.subarray(offset, offset + 300);
      bytes.fill(0x61);
      for (const at of [0, 1, 3, 4, 63, 64, 150, 298, 299]) {
        bytes[at] = 0x80;
        assertEquals(
          isValidUtf8(bytes),
          false,
          `0x80 at ${at}, offset ${offset}`,
        );
        bytes[at] = 0x61;
      }
      assertEquals(isValidUtf8(bytes), true);
    }
  }
});

Deno.test("isValidUtf8 stays correct when a resizable buffer it saw shrinks or grows", () => {
  const buffer = new ArrayBuffer(256, { maxByteLength: 1024 });
  const bytes = new Uint8Array(buffer);
  bytes.fill(0x61);
  assertEquals(isValidUtf8(bytes), true);
  buffer.resize(1024);
  const grown = new Uint8Array(buffer);
  grown.fill(0x61);
  grown[900] = 0xff;
  assertEquals(isValidUtf8(grown), false);
  buffer.resize(128);
  const shrunk = new Uint8Array(buffer);
  shrunk[100] = 0xc0;
  assertEquals(isValidUtf8(shrunk), false);
  shrunk[100] = 0x61;
  assertEquals(isValidUtf8(shrunk), true);
});

Deno.test("encodeUtf8Into() writes what TextEncoder writes, lone surrogates as U+FFFD", () => {
  const texts = [
    "",
    "ascii",
    "é€",
    "😀 pair",
    "\ud800 lone high",
    "lone low \udc00",
    "\udbff",
  ];
  for (const text of texts) {
    const out = new Uint8Array(text.length * 3 + 2).fill(0xee);
    const n = encodeUtf8Into(text, out, 2);
    assertEquals(out.subarray(2, 2 + n), new TextEncoder().encode(text), text);
    assertEquals([...out.subarray(0, 2)], [0xee, 0xee], "nothing before `at`");
  }
});
