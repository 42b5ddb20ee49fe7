/**
 * The long fuzz run: `deno task fuzz [--seconds N] [--seed S] [--target T]
 * [--iterations N] [--json] [--help]`.
 *
 * Runs every target (or one) for N seconds each (default 30) or N iterations,
 * from seed S (default: the time, printed so a failure can be replayed), and
 * prints iterations, throughput, outcomes, memory (live heap when run with
 * `--v8-flags=--expose-gc`) and failures, as a table or as JSON lines. Exits 1
 * on a failure.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fuzz, type Target, TARGETS } from "./_driver.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "30" },
    seed: { type: "string" },
    target: { type: "string" },
    iterations: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
const USAGE =
  "usage: main.ts [--seconds N] [--iterations N] [--seed S] [--json] " +
  `[--target ${TARGETS.join("|")}]`;
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const seconds = Number(values.seconds);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1e9;
const iterations = values.iterations !== undefined
  ? Number(values.iterations)
  : Number.MAX_SAFE_INTEGER;
const targets = values.target ? [values.target as Target] : [...TARGETS];
if (
  !(seconds > 0) || !Number.isSafeInteger(seed) || !(iterations > 0) ||
  targets.some((t) => !TARGETS.includes(t))
) {
  console.error(USAGE);
  Deno.exit(2);
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
if (!values.json) {
  console.log(`fuzz: ${seconds} s per target from seed ${seed}`);
  console.log(
    "| target | iterations | per second | heap growth | peak RSS | failures | outcomes |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
}
let failed = 0;
for (const target of targets) {
  const r = await fuzz(target, seed, iterations, seconds * 1000);
  failed += r.failures.length;
  if (values.json) {
    console.log(JSON.stringify(r));
    continue;
  }
  const outcomes = Object.entries(r.outcomes).sort()
    .map(([k, v]) => `${k}: ${v}`).join(", ");
  const growth = mib(r.heapAfter - r.heapBefore);
  console.log(
    `| ${target} | ${r.iterations} | ${r.perSecond.toFixed(0)} | ${growth} | ` +
      `${mib(r.rssPeak)} | ${r.failures.length} | ${outcomes} |`,
  );
  for (const f of r.failures.slice(0, 10)) {
    console.log(`  FAIL ${f.message}\n    ${f.case}`);
  }
}
Deno.exit(failed > 0 ? 1 : 0);
