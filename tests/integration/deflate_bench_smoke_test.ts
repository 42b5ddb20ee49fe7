/**
 * Keeps the permessage-deflate benchmarks working: the memory benchmark (server
 * and client processes over loopback) and the echo throughput runner, each in its
 * smoke mode, must print a complete table of plausible figures. Nothing here is
 * timed or compared.
 */

import { assert, assertEquals } from "@std/assert";

const root = new URL("../../", import.meta.url);

async function run(file: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file, "--smoke"],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder();
  assertEquals(code, 0, `${file}: ${text.decode(stderr)}`);
  return text.decode(stdout);
}

/** The body rows of the markdown table in `output`, as cells. */
function rows(output: string): string[][] {
  return output.split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"))
    .slice(1)
    .map((line) => line.slice(2, -2).split(" | "));
}

Deno.test("deflate memory benchmark: smoke mode measures every engine and takeover mode", async () => {
  const output = await run("bench/harness/deflate_memory.ts");
  assert(output.includes("20 connections"), output);
  const table = rows(output);
  assertEquals(table.map((r) => r[0]), [
    "uncompressed",
    "CompressionStream, takeover",
    "CompressionStream, no takeover",
    "zlib, takeover",
    "zlib, no takeover",
    "zlib memLevel 4, 12-bit server window, takeover",
  ]);
  for (const [config, rss, heap, external, dRss, dHeap] of table) {
    const n = [rss, heap, external, dRss, dHeap].map(Number);
    assert(n.every(Number.isFinite), `${config}: ${n}`);
    // Every connection costs some heap; none costs megabytes.
    assert(Number(heap) > 0 && Number(heap) < 1024, `${config}: heap ${heap}`);
    assert(Math.abs(Number(rss)) < 16 * 1024, `${config}: RSS ${rss}`);
  }
  assertEquals(table[0].slice(4), ["0.0", "0.0"]);
});

Deno.test("deflate echo runner: smoke mode runs every variant, ws included", async () => {
  const output = await run("bench/harness/deflate_echo.ts");
  const table = rows(output);
  assertEquals(table.length, 8);
  assert(table.some((r) => r[0].startsWith("ws, perMessageDeflate")));
  for (const [name, rate, ratio] of table) {
    assert(Number(rate.replaceAll(",", "")) > 0, `${name}: ${rate}`);
    assert(Number(ratio) > 0, `${name}: ${ratio}`);
  }
});
