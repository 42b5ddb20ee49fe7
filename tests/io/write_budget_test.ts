/** WriteBudget: taking, refusing and giving back bytes, and its checks. */

import { assert, assertEquals, assertThrows } from "@std/assert";
import { WriteBudget } from "../../src/io/write_budget.ts";

Deno.test("WriteBudget: takes what fits, refuses and counts the rest, forces owed bytes", () => {
  const budget = new WriteBudget(100);
  assert(budget.take(60));
  assert(!budget.take(41), "past the limit");
  assertEquals([budget.buffered, budget.refused], [60, 1]);
  budget.force(50); // owed frames pass the limit
  assertEquals([budget.buffered, budget.peak], [110, 110]);
  assert(!budget.take(1));
  budget.give(110);
  assert(budget.take(100));
  assertEquals([budget.buffered, budget.refused, budget.peak], [100, 2, 110]);
});

Deno.test("WriteBudget: the limit must be a positive integer", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assertThrows(() => new WriteBudget(bad), RangeError);
  }
});
