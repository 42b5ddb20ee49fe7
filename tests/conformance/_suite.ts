/**
 * Whole-suite runs in both roles, and writing their report.
 *
 * @module
 */

import type { Case, CaseResult } from "./_case.ts";
import { testServer } from "./_drive_server.ts";
import { DEFAULT_SETTINGS, type SuiteSettings } from "./_execute.ts";
import { FuzzingServer } from "./_fuzzing_server.ts";
import { withTimeout } from "./_handshake.ts";
import { spawn, type Testee } from "./_processes.ts";
import { renderReport } from "./_report.ts";
import { allCases, DEFAULT_PROFILE, type SuiteProfile } from "./cases/mod.ts";

/** What to run. */
export interface SuiteOptions {
  profile?: SuiteProfile;
  /** Keeps the cases whose id starts with one of these prefixes (all when empty). */
  only?: string[];
  settings?: Partial<SuiteSettings>;
}

function selectCases(o: SuiteOptions): Case[] {
  const cases = allCases(o.profile ?? DEFAULT_PROFILE);
  const only = o.only ?? [];
  return only.length === 0
    ? cases
    : cases.filter((c) => only.some((p) => c.id === p || c.id.startsWith(p)));
}

function settingsOf(o: SuiteOptions): SuiteSettings {
  return { ...DEFAULT_SETTINGS, ...o.settings };
}

/** Tests the echo server at `url` with every case that applies to a server. */
export function runServerSuite(
  url: URL,
  o: SuiteOptions = {},
): Promise<CaseResult[]> {
  return testServer(url, selectCases(o), settingsOf(o));
}

/** How to run the client suite. */
export interface ClientSuiteOptions extends SuiteOptions {
  /** Port to listen on; a free one when 0. */
  port?: number;
  /** The client's command line; the base URL is appended. Without it, waits for a client. */
  command?: string[];
  /** Hide the client's output. */
  quiet?: boolean;
  /** Gives up after this long. */
  timeoutMs?: number;
  /** Called once listening. */
  onListen?: (port: number) => void;
}

/** Serves the fuzzing-testee protocol until a client asks `/updateReports`, then reports. */
export async function runClientSuite(
  o: ClientSuiteOptions = {},
): Promise<CaseResult[]> {
  const settings = settingsOf(o);
  const server = new FuzzingServer(selectCases(o), settings);
  const port = settings.http2
    ? await server.listenHttp2("127.0.0.1", o.port ?? 0)
    : server.listen("127.0.0.1", o.port ?? 0);
  o.onListen?.(port);
  let client: Testee | undefined;
  try {
    if (o.command) {
      client = spawn([...o.command, `ws://127.0.0.1:${port}`], o.quiet ?? true);
    }
    const ended = client
      ? client.status.then(() => {})
      : new Promise<void>(() => {});
    await withTimeout(
      Promise.race([server.finished, ended]),
      o.timeoutMs ?? 600_000,
    );
    if (client) await withTimeout(client.status, 5000);
  } finally {
    await client?.stop();
    await server.close();
  }
  return server.report();
}

/** Writes a markdown report; creates the directory. */
export async function writeReport(
  path: string,
  title: string,
  results: CaseResult[],
  meta: Record<string, string>,
): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, renderReport(title, results, meta));
}
