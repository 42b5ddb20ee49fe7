/**
 * What every server under test shares: its command line, announcing its port and
 * answering memory queries on stdin.
 *
 * A server prints `{"port": N}` once it listens. Each `mem` line on stdin is
 * answered with one JSON line of memory figures, after a garbage collection when
 * the process runs with `--v8-flags=--expose-gc`.
 *
 * @module
 */

import { getHeapStatistics } from "node:v8";
import { rssBytes } from "./_proc.ts";

/** The options every server takes: `--deflate` enables compression where it can. */
export const deflate: boolean = Deno.args.includes("--deflate");

/** Tells the runner where to connect, then starts answering memory queries. */
export function announce(port: number): void {
  // A clean exit on SIGTERM, so that `--cpu-prof` writes its profile.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  console.log(JSON.stringify({ port }));
  answerMemoryQueries().catch(() => {});
}

async function answerMemoryQueries(): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const text of lines) {
    pending += text;
    let end: number;
    while ((end = pending.indexOf("\n")) >= 0) {
      const command = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (command === "mem") console.log(JSON.stringify(memory()));
    }
  }
}

/** JS heap in use (objects and external buffers) and the resident set, in bytes. */
export function memory(): { heap: number; external: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const stats = getHeapStatistics();
  return {
    heap: stats.used_heap_size,
    external: stats.external_memory,
    rss: rssBytes("self"),
  };
}
