/**
 * The short fuzz run for CI: fixed seeds, a few hundred cases per target, each
 * target bounded to a few seconds. `deno task fuzz` runs the long one.
 */

import { assert, assertEquals } from "@std/assert";
import { dec } from "../_wire.ts";
import { fuzz, type Target } from "./_driver.ts";

const RUNS: [Target, number, string[]][] = [
  ["frames/memory", 400, ["close", "eof", "1002", "1007", "1009"]],
  ["frames/tcp", 80, ["close", "eof", "1002", "1009"]],
  ["deflate/memory", 300, ["close", "eof", "1002", "1007", "1009"]],
  ["deflate/tcp", 60, ["1002", "1009"]],
  ["handshake/memory", 200, ["101", "400", "414", "431"]],
  ["handshake/tcp", 40, ["101", "400", "431"]],
];

for (const [target, count, mustSee] of RUNS) {
  Deno.test(`fuzz ${target}: ${count} seeded cases end as the reference says`, async () => {
    // The count bounds the run; the time budget only guards against a stuck machine.
    const report = await fuzz(target, 1, count, 15_000);
    assertEquals(report.failures, []);
    assert(
      report.iterations >= Math.min(count, 20),
      `only ${report.iterations} cases ran`,
    );
    // The generator reaches every kind of ending the target can have.
    for (const outcome of mustSee) {
      assert(
        report.outcomes[outcome] > 0,
        `no case ended ${outcome}: ${JSON.stringify(report.outcomes)}`,
      );
    }
  });
}

Deno.test("deno task fuzz runs a target in its own process with no live-heap growth", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./main.ts", import.meta.url).pathname,
      "--target=frames/memory",
      "--iterations=300",
      "--seconds=5",
      "--seed=1000",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, dec(stderr));
  const report = JSON.parse(dec(stdout));
  assertEquals(report.failures, []);
  assert(report.iterations > 0);
  // 300 hostile streams, some of 300 KB: what stays live afterwards is bounded.
  const growth = report.heapAfter - report.heapBefore;
  assert(growth < 8 << 20, `live heap grew by ${growth} bytes`);
});
