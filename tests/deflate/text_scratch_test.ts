/** The shared buffer text messages are encoded into before compression. */

import { assert, assertEquals } from "@std/assert";
import { encodeLent, giveBack } from "../../src/deflate/text_scratch.ts";

Deno.test("encodes as TextEncoder does, lone surrogates included", () => {
  for (
    const text of ["", "plain", "κόσμε 你好 🌍", "a\ud800b", "x".repeat(9000)]
  ) {
    const bytes = encodeLent(text);
    assertEquals(bytes, new TextEncoder().encode(text));
    giveBack(bytes);
  }
});

Deno.test("while lent, the next text gets an array of its own; given back, it is shared again", () => {
  const first = encodeLent("first");
  const second = encodeLent("second");
  assert(first.buffer !== second.buffer);
  assertEquals(new TextDecoder().decode(first), "first");
  giveBack(second); // not the shared buffer: the loan stays
  assertEquals(encodeLent("third").buffer === first.buffer, false);
  giveBack(first);
  const again = encodeLent("again");
  assertEquals(again.buffer, first.buffer);
  giveBack(again);
});

Deno.test("text that may need more than 64 KiB is encoded on its own", () => {
  const big = encodeLent("é".repeat(30_000));
  const small = encodeLent("small");
  assertEquals(big.length, 60_000);
  assert(big.buffer !== small.buffer);
  giveBack(small);
  giveBack(big);
});
