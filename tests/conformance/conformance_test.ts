/**
 * The project's conformance: the whole suite against `examples/echo_server.ts`
 * (started on a free port, stopped by its handle) and `examples/autobahn_client.ts`
 * (run against the harness's fuzzing server), compression included. Fails on any
 * case that is FAILED, NON-STRICT or SKIPPED, and writes the reports to `reports/`.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import type { CaseResult } from "./_case.ts";
import { startServer } from "./_processes.ts";
import { summaryLines } from "./_report.ts";
import { runClientSuite, runServerSuite, writeReport } from "./_suite.ts";

const SERVER = [
  "deno",
  "run",
  "-A",
  "examples/echo_server.ts",
  "--port",
  "{port}",
  "--quiet",
];
const CLIENT = ["deno", "run", "-A", "examples/autobahn_client.ts"];

/**
 * Every case that is not OK or INFORMATIONAL: a failure, a non-strict answer, or
 * a compression case skipped because the examples did not negotiate compression.
 */
function failed(results: CaseResult[]): string {
  return results
    .filter((r) => r.verdict !== "OK" && r.verdict !== "INFORMATIONAL")
    .map((r) =>
      `${r.verdict} ${r.id} ${r.title}\n  expected: ${r.expectation}\n  observed: ${r.outcome}\n  ${r.reason}`
    )
    .join("\n");
}

async function save(
  role: string,
  testee: string[],
  results: CaseResult[],
): Promise<void> {
  const path = `reports/conformance-wsx-${role}.md`;
  await writeReport(path, `Conformance of ${testee.join(" ")}`, results, {
    testee: testee.join(" "),
    date: new Date().toISOString(),
  });
  console.log(`${role}: ${path}\n  ${summaryLines(results).join("\n  ")}`);
}

Deno.test({
  name: "examples/echo_server.ts passes every conformance case",
  async fn() {
    const { testee, url } = await startServer(SERVER, true);
    try {
      const results = await runServerSuite(url);
      await save("server", SERVER, results);
      assertEquals(failed(results), "");
    } finally {
      await testee.stop();
    }
  },
});

Deno.test({
  name: "examples/autobahn_client.ts passes every conformance case",
  async fn() {
    const results = await runClientSuite({
      command: CLIENT,
      timeoutMs: 120_000,
    });
    await save("client", CLIENT, results);
    assertEquals(failed(results), "");
  },
});
