/**
 * Frame header encode and decode, by length class (7-, 16- and 64-bit lengths),
 * masked (client frames) and unmasked (server frames).
 *
 * @module
 */

import { decodeHeader, encodeHeader, newHeader } from "../../mod.ts";
import { bench } from "./_bench.ts";

const CLASSES = [
  { name: "7-bit (125 B)", length: 125 },
  { name: "16-bit (64 KiB - 1)", length: 65535 },
  { name: "64-bit (1 MiB)", length: 1 << 20 },
];
const KEY = new Uint8Array([1, 2, 3, 4]);
const out = new Uint8Array(14);
const header = newHeader();
let sink = 0;

for (const masked of [false, true]) {
  const kind = masked ? "masked" : "unmasked";
  for (const { name, length } of CLASSES) {
    const bytes = new Uint8Array(14);
    const size = encodeHeader(bytes, 0, 0x82, length, masked ? KEY : null);
    bench({
      name: `decode ${kind} ${name}`,
      group: `decode ${kind}`,
      baseline: length === 125,
      fn() {
        sink += decodeHeader(bytes, 0, size, header);
      },
    });
    bench({
      name: `encode ${kind} ${name}`,
      group: `encode ${kind}`,
      baseline: length === 125,
      fn() {
        sink += encodeHeader(out, 0, 0x82, length, masked ? KEY : null);
      },
    });
  }
}

// Keeps the results observable so that no call is optimised away.
globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink, header.length);
});
