/** held_writes: one macrotask releases every holder; letting go skips one. */

import { assertEquals } from "@std/assert";
import { holdUntilNextTask, letGo } from "../../src/io/held_writes.ts";

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("held_writes: every holder is released once, by the next macrotask", async () => {
  const released: string[] = [];
  const a = { release: () => released.push("a") };
  const b = { release: () => released.push("b") };
  holdUntilNextTask(a);
  holdUntilNextTask(b);
  holdUntilNextTask(a); // already holding: still released once
  await Promise.resolve();
  assertEquals(released, [], "not within the same task");
  await nextTask();
  assertEquals(released.sort(), ["a", "b"]);
});

Deno.test("held_writes: a holder that let go is not released; a later hold is", async () => {
  const released: string[] = [];
  const a = { release: () => released.push("a") };
  holdUntilNextTask(a);
  letGo(a);
  await nextTask();
  assertEquals(released, []);
  holdUntilNextTask(a); // a new hold after the release ran schedules again
  await nextTask();
  assertEquals(released, ["a"]);
});
