/**
 * The conformance CLI. Tests a WebSocket echo server, a WebSocket client, or both,
 * writes a markdown report per role to `reports/`, and exits with 1 when a case
 * FAILED (with `--strict`, also when one is NON-STRICT; with `--require-deflate`,
 * also when one is SKIPPED).
 *
 * ```sh
 * # a running server
 * deno run -A tests/conformance/run.ts --server ws://127.0.0.1:9001/
 * # a server started for the run ({port} is replaced by a free port)
 * deno run -A tests/conformance/run.ts --server-command "deno run -A examples/echo_server.ts --port {port}"
 * # a client started for the run (the base URL is appended to its arguments)
 * deno run -A tests/conformance/run.ts --client-command "deno run -A examples/autobahn_client.ts"
 * # wait for a client started by hand on port 9002
 * deno run -A tests/conformance/run.ts --client-port 9002
 * ```
 *
 * Other options: `--http2` (server cases on extended CONNECT streams of one
 * h2c session, RFC 8441), `--cases 6.,7.2` (id prefixes), `--read-limit BYTES`,
 * `--out DIR` (default `reports`), `--name LABEL`, `--verbose`.
 *
 * @module
 */

import type { CaseResult } from "./_case.ts";
import { startServer } from "./_processes.ts";
import { summaryLines } from "./_report.ts";
import {
  runClientSuite,
  runServerSuite,
  type SuiteOptions,
  writeReport,
} from "./_suite.ts";
import { DEFAULT_PROFILE } from "./cases/mod.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

function words(s: string): string[] {
  return s.split(" ").filter((w) => w !== "");
}

function print(role: string, results: CaseResult[], path: string): void {
  console.log(`\n${role}: ${results.length} cases, report in ${path}`);
  for (const line of summaryLines(results)) console.log(`  ${line}`);
  for (const r of results.filter((r) => r.verdict === "FAILED")) {
    console.log(
      `  FAILED ${r.id} ${r.title}\n    expected: ${r.expectation}\n    observed: ${r.outcome}\n    ${r.reason}`,
    );
  }
}

async function main(): Promise<number> {
  const out = flag("--out") ?? "reports";
  const name = flag("--name") ?? "testee";
  const verbose = Deno.args.includes("--verbose");
  const options: SuiteOptions = {
    profile: {
      ...DEFAULT_PROFILE,
      readLimit: Number(flag("--read-limit") ?? DEFAULT_PROFILE.readLimit),
    },
    only: (flag("--cases") ?? "").split(",").filter((s) => s !== ""),
    settings: {
      http2: Deno.args.includes("--http2"),
      onResult: (r) =>
        verbose &&
        console.log(
          `${r.verdict.padEnd(13)} ${r.id} ${r.title} (${r.durationMs} ms)`,
        ),
    },
  };
  const all: CaseResult[] = [];
  const serverUrl = flag("--server");
  const serverCommand = flag("--server-command");
  if (serverUrl || serverCommand) {
    const started = serverCommand
      ? await startServer(words(serverCommand), !verbose)
      : undefined;
    const url = started?.url ?? new URL(serverUrl!);
    try {
      const t0 = performance.now();
      const results = await runServerSuite(url, options);
      const path = `${out}/conformance-${name}-server.md`;
      await writeReport(
        path,
        `Conformance of the server ${serverCommand ?? url.href}`,
        results,
        {
          "testee": serverCommand ?? url.href,
          "duration": `${Math.round(performance.now() - t0)} ms`,
          "date": new Date().toISOString(),
        },
      );
      print("server", results, path);
      all.push(...results);
    } finally {
      await started?.testee.stop();
    }
  }
  const clientCommand = flag("--client-command");
  const clientPort = flag("--client-port");
  if (clientCommand || clientPort) {
    const t0 = performance.now();
    const results = await runClientSuite({
      ...options,
      port: Number(clientPort ?? 0),
      command: clientCommand ? words(clientCommand) : undefined,
      quiet: !verbose,
      onListen: (port) =>
        !clientCommand &&
        console.log(`waiting for a testee client on ws://127.0.0.1:${port}`),
    });
    const path = `${out}/conformance-${name}-client.md`;
    await writeReport(
      path,
      `Conformance of the client ${clientCommand ?? `on port ${clientPort}`}`,
      results,
      {
        "testee": clientCommand ?? `client on port ${clientPort}`,
        "duration": `${Math.round(performance.now() - t0)} ms`,
        "date": new Date().toISOString(),
      },
    );
    print("client", results, path);
    all.push(...results);
  }
  if (all.length === 0) {
    console.error(
      "nothing to test: give --server, --server-command, --client-command or --client-port",
    );
    return 2;
  }
  const bad = all.filter((r) =>
    r.verdict === "FAILED" ||
    (Deno.args.includes("--strict") && r.verdict === "NON-STRICT") ||
    (Deno.args.includes("--require-deflate") && r.verdict === "SKIPPED")
  );
  return bad.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(
      `conformance run failed: ${e instanceof Error ? e.message : e}`,
    );
    Deno.exit(2);
  }
}
