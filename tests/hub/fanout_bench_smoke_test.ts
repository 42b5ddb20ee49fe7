/**
 * Keeps the fan-out benchmark working: a tiny run against our server, `ws`
 * and Deno's (Bun is not installed in CI) must print a row for each, with
 * deliveries counted and nothing lost, duplicated or reordered. Nothing here is
 * timed or compared.
 *
 * @module
 */

import { assertEquals, assertGreater } from "@std/assert";

const root = new URL("../../", import.meta.url).pathname;

Deno.test("fan-out benchmark runs in a tiny configuration, losing nothing", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "bench/harness/fanout/run.ts",
      "--only=ours,ws,deno",
      "--subscribers=20",
      "--sizes=64",
      "--reps=1",
      "--seconds=0.3",
      "--inflight=4",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const out = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr) + out);
  const rows = out.split("\n").filter((l) => /^\| (ours|ws|deno) \|/.test(l));
  assertEquals(rows.map((r) => r.split("|")[1].trim()), ["ours", "ws", "deno"]);
  for (const row of rows) {
    const cells = row.split("|").map((c) => c.trim());
    assertGreater(Number(cells[4]), 0, row);
    assertEquals(cells[8], "0/0/0", row);
  }
});
