/**
 * The interop matrix: every independent peer, in every role it can play, with
 * every compression setting, against our server or our client. Each cell runs the
 * shared scenario (`page/scenario.js`) over loopback and is judged from both
 * sides' reports.
 *
 * Run it to print the README's table:
 *
 * ```sh
 * deno run -A tests/interop/matrix.ts
 * ```
 *
 * It exits with 1 when a cell fails, after printing every problem found.
 *
 * @module
 */

import { Chromium, chromiumInstalled } from "./_chromium.ts";
import { ourClient, startOurServer } from "./_ours.ts";
import {
  chromiumClient,
  type DeflateVariant,
  denoClient,
  type ScenarioClient,
  type ScenarioServer,
  startDenoServer,
  startPageServer,
  startWsServer,
  WS_VERSION,
  wsClient,
} from "./_peers.ts";
import { judge, judgeWire } from "./_judge.ts";
import { PAYLOAD_BYTES } from "./page/messages.js";
import { type CountingProxy, startProxy, type WireCount } from "./_proxy.ts";

/** What the peers and our library need to run one cell. */
export interface MatrixContext {
  /** The browser, when Chromium cells run. */
  browser?: Chromium;
  /** The URL of the interop page. */
  pageUrl: string;
}

/** One cell of the matrix. */
export interface Cell {
  /** The independent implementation. */
  peer: string;
  /** Which side is ours: `"server"` (the peer is the client) or `"client"`. */
  ours: "client" | "server";
  /** The compression variant, or `undefined` for none. */
  deflate?: DeflateVariant;
  /** Whether the cell runs over TLS (`wss://`, the test certificate). */
  secure?: boolean;
  /** Starts the server of the cell. */
  server(ctx: MatrixContext): Promise<ScenarioServer>;
  /** The client of the cell. */
  client(ctx: MatrixContext): ScenarioClient;
}

/** A cell's outcome. */
export interface CellResult {
  cell: Cell;
  /** Everything that went wrong; empty when the cell passed. */
  problems: string[];
  /** How long it took, in ms. */
  ms: number;
  /** The bytes the proxy relayed each way. */
  wire: WireCount;
}

/** permessage-deflate with both sides at their defaults. */
const DEFLATE: DeflateVariant = { label: "permessage-deflate" };
/** No context takeover in either direction, and every message compressed. */
const NO_TAKEOVER: DeflateVariant = {
  label: "permessage-deflate, no context takeover, threshold 0",
  noContextTakeover: true,
  threshold: 0,
};
/** Our `node:zlib` engine with both windows limited to 10 bits. */
const ZLIB_10: DeflateVariant = {
  label: "permessage-deflate, zlib engine, 10-bit windows",
  engine: "zlib",
  maxWindowBits: 10,
};
/**
 * The peer (client) asks for a 10-bit server window, which `CompressionStream`
 * cannot keep: our default engine compresses that connection with zlib.
 */
const SMALL_SERVER_WINDOW: DeflateVariant = {
  label: "peer asks for a 10-bit server window: zlib keeps it",
  peerMaxWindowBits: 10,
};
/** The peer (server) limits its own window to 10 bits; ours stays at 15. */
const PEER_10: DeflateVariant = {
  label: "permessage-deflate, peer's window 10 bits",
  peerMaxWindowBits: 10,
};

/** Every cell, in table order. */
export function cells(options: { chromium: boolean }): Cell[] {
  const list: Cell[] = [
    {
      peer: "Deno `WebSocket`",
      ours: "server",
      server: () => startOurServer(),
      client: () => denoClient,
    },
    {
      peer: "Deno `upgradeWebSocket`",
      ours: "client",
      server: () => Promise.resolve(startDenoServer()),
      client: () => ourClient(),
    },
  ];
  const ws = `ws ${WS_VERSION}`;
  for (const deflate of [undefined, DEFLATE, NO_TAKEOVER, ZLIB_10]) {
    list.push({
      peer: ws,
      ours: "server",
      deflate,
      server: () => startOurServer(deflate),
      client: () => wsClient(deflate),
    }, {
      peer: ws,
      ours: "client",
      deflate,
      server: () => startWsServer(deflate),
      client: () => ourClient(deflate),
    });
  }
  list.push({
    peer: ws,
    ours: "server",
    deflate: SMALL_SERVER_WINDOW,
    server: () => startOurServer(SMALL_SERVER_WINDOW),
    client: () => wsClient(SMALL_SERVER_WINDOW),
  }, {
    peer: ws,
    ours: "client",
    deflate: PEER_10,
    server: () => startWsServer(PEER_10),
    client: () => ourClient(PEER_10),
  });
  if (options.chromium) {
    for (const deflate of [undefined, DEFLATE, NO_TAKEOVER, ZLIB_10]) {
      list.push({
        peer: "Chromium",
        ours: "server",
        deflate,
        server: () => startOurServer(deflate),
        client: (ctx) => chromiumClient(ctx.browser!, ctx.pageUrl),
      });
    }
  }
  list.push(...secureCells(options));
  return list;
}

/** The cells over TLS: each peer that can, in each role it can play. */
function secureCells(options: { chromium: boolean }): Cell[] {
  const list: Cell[] = [
    {
      peer: "Deno `upgradeWebSocket`",
      ours: "client",
      secure: true,
      server: () => Promise.resolve(startDenoServer(true)),
      client: () => ourClient(),
    },
    {
      peer: `ws ${WS_VERSION}`,
      ours: "server",
      deflate: DEFLATE,
      secure: true,
      server: () => startOurServer(DEFLATE, true),
      client: () => wsClient(DEFLATE),
    },
    {
      peer: `ws ${WS_VERSION}`,
      ours: "client",
      deflate: DEFLATE,
      secure: true,
      server: () => startWsServer(DEFLATE, true),
      client: () => ourClient(DEFLATE),
    },
  ];
  if (options.chromium) {
    list.push({
      peer: "Chromium",
      ours: "server",
      deflate: DEFLATE,
      secure: true,
      server: () => startOurServer(DEFLATE, true),
      client: (ctx) => chromiumClient(ctx.browser!, ctx.pageUrl),
    });
  }
  return list;
}

/** A cell's name: peer, role, transport and compression. */
export function cellName(cell: Cell): string {
  return [
    cell.peer,
    roleLabel(cell),
    cell.secure ? "TLS" : "TCP",
    cell.deflate?.label ?? "off",
  ].join(" / ");
}

/**
 * Runs one cell: starts its server and a counting proxy in front of it, runs
 * its client through the proxy, and judges both reports and the wire.
 */
export async function runCell(
  cell: Cell,
  ctx: MatrixContext,
): Promise<CellResult> {
  const start = performance.now();
  const problems: string[] = [];
  const compressed = cell.deflate !== undefined &&
    cell.deflate.negotiated !== false;
  let server: ScenarioServer | null = null;
  let proxy: CountingProxy | null = null;
  try {
    server = await cell.server(ctx);
    proxy = startProxy(server.url);
    const report = await cell.client(ctx)(proxy.url);
    const servers = await server.reports(3);
    problems.push(
      ...judge(report, servers, { deflate: compressed, pong: cell.ours }),
      ...judgeWire(proxy.count, compressed),
    );
  } catch (e) {
    problems.push(`harness: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await proxy?.close();
    await server?.close().catch((e) =>
      problems.push(`closing the server: ${e}`)
    );
  }
  const wire = proxy ? { ...proxy.count } : { up: 0, down: 0 };
  return { cell, problems, ms: Math.round(performance.now() - start), wire };
}

/**
 * Starts what the cells share: the page server and, when asked, one browser.
 * Disposing of it ends both.
 */
export async function openMatrix(
  options: { chromium: boolean },
): Promise<MatrixContext & AsyncDisposable> {
  const page = startPageServer();
  let browser: Chromium | undefined;
  try {
    // The page is plain HTTP on loopback; `wss://` cells use the test
    // certificate, which this throwaway profile cannot be told to trust.
    if (options.chromium) {
      browser = await Chromium.launch({
        args: ["--ignore-certificate-errors"],
      });
    }
  } catch (e) {
    await page.close();
    throw e;
  }
  return {
    browser,
    pageUrl: page.url,
    async [Symbol.asyncDispose]() {
      await browser?.close();
      await page.close();
    },
  };
}

/** Runs every cell in turn and yields each result as it comes. */
export async function* runMatrix(
  options: { chromium?: boolean } = {},
): AsyncGenerator<CellResult> {
  const chromium = options.chromium ?? chromiumInstalled();
  await using ctx = await openMatrix({ chromium });
  for (const cell of cells({ chromium })) yield await runCell(cell, ctx);
}

/** The role column: which side is ours. */
export function roleLabel(cell: Cell): string {
  return cell.ours === "server"
    ? "peer client → our server"
    : "our client → peer server";
}

function mib(bytes: number): string {
  return (bytes / (1 << 20)).toFixed(1);
}

/**
 * The matrix as a markdown table: peer, role, compression, result, and the MiB
 * that crossed the wire each way for the echo connection's
 * {@linkcode PAYLOAD_BYTES} of payload.
 */
export function markdownTable(results: CellResult[]): string {
  const lines = [
    `| peer | role | transport | compression | result | wire MiB up / down (payload ${
      mib(PAYLOAD_BYTES)
    }) |`,
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const { cell, problems, wire } of results) {
    const result = problems.length === 0
      ? "pass"
      : `**fail** (${problems.length} problems)`;
    const deflate = cell.deflate?.label ?? "off";
    lines.push(
      `| ${cell.peer} | ${roleLabel(cell)} | ${
        cell.secure ? "TLS" : "TCP"
      } | ${deflate} | ${result} | ${mib(wire.up)} / ${mib(wire.down)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const start = performance.now();
  const results: CellResult[] = [];
  for await (const r of runMatrix()) {
    results.push(r);
    const state = r.problems.length === 0 ? "pass" : "FAIL";
    console.error(
      `${state} ${cellName(r.cell)} (${r.ms} ms)`,
    );
    for (const p of r.problems) console.error(`  - ${p}`);
  }
  console.log(markdownTable(results));
  const failed = results.filter((r) => r.problems.length > 0).length;
  console.error(
    `matrix: ${results.length - failed} of ${results.length} cells passed in ${
      Math.round(performance.now() - start)
    } ms`,
  );
  if (!chromiumInstalled()) {
    console.error("Chromium rows skipped: /usr/bin/chromium is missing");
  }
  Deno.exit(failed === 0 ? 0 : 1);
}
