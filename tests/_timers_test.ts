import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Deadline, sleep, untilAborted, withTimeout } from "../src/_timers.ts";

const never = () => new Promise<never>(() => {});

Deno.test("withTimeout() tells whether a promise fulfilled in time and clears its timer", async () => {
  assertEquals(await withTimeout(Promise.resolve(1), 60_000), true);
  const late = new Promise((resolve) => setTimeout(resolve, 50));
  assertEquals(await withTimeout(late, 1), false);
  await late;
  assertEquals(await withTimeout(never(), 5), false);
  await assertRejects(
    () => withTimeout(Promise.reject(new Error("Broken")), 60_000),
    Error,
    "Broken",
  );
});

Deno.test("sleep() wakes on time, on abort and when closed settles", async () => {
  let start = Date.now();
  await sleep(10);
  assert(Date.now() - start >= 9);

  const controller = new AbortController();
  start = Date.now();
  const sleeping = sleep(60_000, controller.signal);
  setTimeout(() => controller.abort(), 5);
  await sleeping;
  assert(Date.now() - start < 30_000);

  await sleep(60_000, AbortSignal.abort());

  let close!: () => void;
  const closed = new Promise<void>((resolve) => close = resolve);
  const waking = sleep(60_000, undefined, closed);
  close();
  await waking;

  await sleep(60_000, undefined, Promise.reject(new Error("Failed")));
});

Deno.test("untilAborted() passes on the outcome, or runs onAbort and rejects with the reason", async () => {
  let aborted = 0;
  const onAbort = () => aborted++;
  assertEquals(await untilAborted(Promise.resolve(1), undefined, onAbort), 1);
  const controller = new AbortController();
  assertEquals(
    await untilAborted(Promise.resolve(2), controller.signal, onAbort),
    2,
  );
  await assertRejects(
    () =>
      untilAborted(
        Promise.reject(new Error("Broken")),
        controller.signal,
        onAbort,
      ),
    Error,
    "Broken",
  );
  assertEquals(aborted, 0);

  const pending = untilAborted(never(), controller.signal, onAbort);
  controller.abort(new Error("Stop"));
  await assertRejects(() => pending, Error, "Stop");
  assertEquals(aborted, 1);

  const failing = Promise.reject(new Error("Unseen"));
  await assertRejects(
    () => untilAborted(failing, AbortSignal.abort(new Error("Early")), onAbort),
    Error,
    "Early",
  );
  assertEquals(aborted, 2);
});

Deno.test("Deadline aborts on time, passes on a parent's abort, and clears", async () => {
  const timed = new Deadline(10, undefined, () => new Error("Late"));
  await new Promise((resolve) =>
    timed.signal.addEventListener("abort", resolve)
  );
  assertEquals((timed.signal.reason as Error).message, "Late");

  const parent = new AbortController();
  const child = new Deadline(60_000, parent.signal, () => new Error("Late"));
  parent.abort(new Error("Parent"));
  assertEquals((child.signal.reason as Error).message, "Parent");
  child.clear();

  const already = new Deadline(Infinity, AbortSignal.abort("x"), () => null);
  assertEquals(already.signal.reason, "x");

  const cleared = new Deadline(5, undefined, () => new Error("Late"));
  cleared.clear();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(cleared.signal.aborted, false);
  assertThrows(() => new Deadline(0, undefined, () => null), RangeError);
});
