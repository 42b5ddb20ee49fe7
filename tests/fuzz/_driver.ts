/**
 * Runs fuzz targets for a number of seeds or a time budget and reports
 * iterations, throughput, outcomes, failures and memory.
 *
 * @module
 */

import {
  checkHandshake,
  describeHandshake,
  handshakeCase,
  runHandshakeInMemory,
  runHandshakeOverTcp,
} from "./_handshake.ts";
import {
  check,
  describe,
  frameCase,
  Loopback,
  runInMemory,
  runOverTcp,
} from "./_run.ts";

/** The fuzz targets: what is fed, and over which transport. */
export const TARGETS = [
  "frames/memory",
  "frames/tcp",
  "deflate/memory",
  "deflate/tcp",
  "handshake/memory",
  "handshake/tcp",
] as const;

/** A fuzz target's name. */
export type Target = typeof TARGETS[number];

/** What a fuzz run found. */
export interface FuzzReport {
  target: Target;
  iterations: number;
  elapsedMs: number;
  perSecond: number;
  /** How the cases ended: close codes, "close", "eof", or HTTP statuses. */
  outcomes: Record<string, number>;
  failures: { seed: number; case: string; message: string }[];
  heapBefore: number;
  heapAfter: number;
  rssPeak: number;
}

/**
 * Runs one target for seeds `firstSeed`, `firstSeed + 1`, … until `maxIterations`
 * cases ran or `budgetMs` passed.
 */
export async function fuzz(
  target: Target,
  firstSeed: number,
  maxIterations: number,
  budgetMs: number,
): Promise<FuzzReport> {
  const [kind, transport] = target.split("/");
  const loop = transport === "tcp" ? new Loopback() : null;
  const outcomes: Record<string, number> = {};
  const failures: FuzzReport["failures"] = [];
  // With --v8-flags=--expose-gc, heap figures count live objects only.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = Deno.memoryUsage().heapUsed;
  let rssPeak = Deno.memoryUsage().rss;
  const start = performance.now();
  let i = 0;
  try {
    for (; i < maxIterations && performance.now() - start < budgetMs; i++) {
      const seed = firstSeed + i;
      let outcome: string;
      let describeCase: () => string = () => "";
      try {
        if (kind === "handshake") {
          const c = handshakeCase(seed);
          describeCase = () => describeHandshake(c);
          const o = loop
            ? await runHandshakeOverTcp(c, loop)
            : await runHandshakeInMemory(c);
          outcome = await checkHandshake(c, o);
        } else {
          const c = frameCase(seed, kind === "deflate");
          describeCase = () => describe(c);
          const o = loop ? await runOverTcp(c, loop) : await runInMemory(c);
          outcome = check(c, o);
        }
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      } catch (err) {
        failures.push({
          seed,
          case: describeCase(),
          message: err instanceof Error ? err.message : String(err),
        });
      }
      if (i % 256 === 0) rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
    }
  } finally {
    loop?.close();
  }
  const elapsedMs = performance.now() - start;
  gc?.();
  const mem = Deno.memoryUsage();
  return {
    target,
    iterations: i,
    elapsedMs,
    perSecond: i / (elapsedMs / 1000),
    outcomes,
    failures,
    heapBefore,
    heapAfter: mem.heapUsed,
    rssPeak: Math.max(rssPeak, mem.rss),
  };
}
