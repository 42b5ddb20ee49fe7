/** The window a new DEFLATE stream starts from: its last bytes, in order. */

import { assertEquals } from "@std/assert";
import { InflateWindow } from "../../src/deflate/inflate_window.ts";

/** What the window must hold: the last `size` bytes of everything pushed. */
function expected(all: number[], extra: number[], size: number): number[] {
  return [...all, ...extra].slice(-size);
}

Deno.test("InflateWindow keeps the last window-size bytes across growth and wrapping", () => {
  for (const bits of [8, 12, 15]) {
    const size = 1 << bits;
    const window = new InflateWindow(bits);
    const all: number[] = [];
    let seed = bits;
    for (const n of [0, 1, 100, 3000, 5000, 17, size, 2 * size + 3, 9, 4095]) {
      const chunk = Array.from(
        { length: n },
        () => (seed = seed * 31 + 7) & 0xff,
      );
      window.push(new Uint8Array(chunk));
      all.push(...chunk);
      assertEquals(window.length, Math.min(size, all.length));
      const extra = [1, 2, 3];
      assertEquals(
        [...window.dictionary(new Uint8Array(extra))],
        expected(all, extra, size),
        `${bits} bits, after ${n}`,
      );
      assertEquals([...window.dictionary()], expected(all, [], size));
    }
    window.clear();
    assertEquals([...window.dictionary(new Uint8Array([9]))], [9]);
  }
});
