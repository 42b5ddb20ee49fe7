/**
 * UTF-8 validation: `isValidUtf8` and the incremental `Utf8Validator` against
 * `TextDecoder` with `fatal: true` (which also builds a string), on ASCII and on
 * multilingual text.
 *
 * @module
 */

import { isValidUtf8 } from "../../mod.ts";
import { Utf8Validator } from "../../src/codec/utf8.ts";
import { bench } from "./_bench.ts";
import { asciiText, multilingualText } from "../_frames.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
const validator = new Utf8Validator();
const PIECE = 4096;
let sink = 0;

const INPUTS = [
  { name: "ASCII 20 B", bytes: asciiText(20) },
  { name: "ASCII 1 KiB", bytes: asciiText(1024) },
  { name: "ASCII 64 KiB", bytes: asciiText(65536) },
  { name: "multilingual 1 KiB", bytes: multilingualText(1024) },
  { name: "multilingual 64 KiB", bytes: multilingualText(65536) },
];

for (const { name, bytes } of INPUTS) {
  bench({
    name: `TextDecoder fatal ${name}`,
    group: name,
    baseline: true,
    fn() {
      sink += fatal.decode(bytes).length;
    },
  });
  bench({
    name: `isValidUtf8 ${name}`,
    group: name,
    fn() {
      if (isValidUtf8(bytes)) sink++;
    },
  });
  bench({
    name: `Utf8Validator in 4 KiB pieces ${name}`,
    group: name,
    fn() {
      validator.reset();
      for (let at = 0; at < bytes.length; at += PIECE) {
        validator.push(bytes, at, Math.min(at + PIECE, bytes.length));
      }
      if (validator.complete) sink++;
    },
  });
}

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
