/**
 * Masking by payload size (8 B to 16 MiB) and start offset: the word-wise
 * `maskInPlace` against a plain byte loop written here, the obvious alternative;
 * then 64 buffers masked in turn, as the pooled write buffers of 64 client
 * connections are.
 *
 * @module
 */

import { maskInPlace } from "../../mod.ts";
import { bench, SMOKE } from "./_bench.ts";

const SIZES = [8, 64, 125, 1024, 4096, 65536, 1 << 20, 16 << 20];
const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** The naive reference: one XOR per byte. */
function maskBytes(
  bytes: Uint8Array,
  key: Uint8Array,
  start: number,
  end: number,
) {
  for (let i = start; i < end; i++) bytes[i] ^= key[(i - start) & 3];
}

function label(size: number): string {
  if (size >= 1 << 20) return `${size >> 20} MiB`;
  if (size >= 1024) return `${size >> 10} KiB`;
  return `${size} B`;
}

for (const size of SMOKE ? SIZES.slice(0, 3) : SIZES) {
  // Three spare bytes so that every offset masks `size` bytes.
  const buf = new Uint8Array(size + 3);
  const group = `mask ${label(size)}`;
  bench({
    name: `byte loop ${label(size)}`,
    group,
    baseline: true,
    fn() {
      maskBytes(buf, KEY, 0, size);
    },
  });
  for (const offset of [0, 1, 3]) {
    bench({
      name: `maskInPlace ${label(size)} at offset ${offset}`,
      group,
      fn() {
        maskInPlace(buf, KEY, 0, offset, offset + size);
      },
    });
  }
}

// Many connections' pooled buffers in turn: a word view cached for the last
// buffer alone would be made again (allocated) on every call.
const POOLED = Array.from({ length: 64 }, () => new Uint8Array(16384 + 6));
let next = 0;
for (const size of SMOKE ? [32] : [32, 1024, 16384]) {
  bench({
    name: `maskInPlace ${label(size)}, 64 buffers in turn`,
    group: `mask ${label(size)}, 64 buffers`,
    fn() {
      maskInPlace(POOLED[next++ & 63], KEY, 0, 6, 6 + size);
    },
  });
}
