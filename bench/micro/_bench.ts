/**
 * The micro benchmarks' registration: `Deno.bench`, or a few iterations each in
 * smoke mode.
 *
 * @module
 */

/**
 * Whether the benchmarks run in smoke mode (`BENCH_SMOKE=1 deno run -A FILE`): a
 * handful of iterations each, to prove they still work, not to time anything.
 */
export const SMOKE: boolean = (() => {
  try {
    return Deno.env.get("BENCH_SMOKE") === "1";
  } catch {
    return false;
  }
})();

/** Iterations of each benchmark in smoke mode. */
const SMOKE_ITERATIONS = 3;
let smokeQueue: Promise<void> = Promise.resolve();

/** A benchmark: `Deno.bench`'s fields that these files use. */
export interface BenchCase {
  name: string;
  group?: string;
  baseline?: boolean;
  fn: () => void | Promise<void>;
}

/**
 * Registers a benchmark with `Deno.bench`; in smoke mode (run the file with
 * `deno run`) runs it a few times instead, one after another, and prints
 * `smoke ok | group | name` for each.
 */
export function bench(def: BenchCase): void {
  if (!SMOKE) {
    Deno.bench(def);
    return;
  }
  smokeQueue = smokeQueue.then(async () => {
    for (let i = 0; i < SMOKE_ITERATIONS; i++) await def.fn();
    console.log(`smoke ok | ${def.group ?? ""} | ${def.name}`);
  });
}

/**
 * Resolves once every benchmark registered so far has run in smoke mode (at once
 * otherwise), so that a file can then stop the servers it started.
 */
export function smokeFinished(): Promise<void> {
  return smokeQueue;
}
