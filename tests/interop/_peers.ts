/**
 * The independent peers of the interop matrix, each playing the shared scenario
 * (`page/scenario.js`): Deno's built-in `WebSocket` and `Deno.upgradeWebSocket`,
 * `ws` from npm (client and server, with or without `perMessageDeflate`), and a
 * page in headless Chromium.
 *
 * @module
 */

// @ts-types="npm:@types/ws@8.18.2"
import { WebSocket as NodeWebSocket, WebSocketServer } from "npm:ws@8.23.0";
import { createServer as createHttpsServer } from "node:https";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";
import type { Chromium } from "./_chromium.ts";
import { MAX_MESSAGE, PROTOCOL, within } from "./page/messages.js";
import {
  type ClientReport,
  runClient,
  type ServerReport,
  serveSocket,
  type SocketLike,
} from "./page/scenario.js";

/** The version of `ws` the matrix runs, as imported above. */
export const WS_VERSION = "8.23.0";

/** A server of the scenario, listening on loopback. */
export interface ScenarioServer {
  /** The base URL clients connect to, such as `ws://127.0.0.1:40000`. */
  readonly url: string;
  /** Waits for the reports of `count` connections (fewer if fewer came). */
  reports(count: number): Promise<ServerReport[]>;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Runs the client side of the scenario against a base URL. */
export type ScenarioClient = (url: string) => Promise<ClientReport>;

/**
 * The permessage-deflate settings of one matrix cell, in RFC 7692 terms; both
 * sides of the cell are configured with them.
 */
export interface DeflateVariant {
  /** A short label for the matrix table. */
  label: string;
  /** Both sides ask for `server_no_context_takeover` and `client_no_context_takeover`. */
  noContextTakeover?: boolean;
  /** Both sides ask for `server_max_window_bits` and `client_max_window_bits` of this size. */
  maxWindowBits?: number;
  /**
   * Only the peer sets `serverMaxWindowBits` to this: a client asks for that
   * server window, a server uses it. Our side is left at its defaults.
   */
  peerMaxWindowBits?: number;
  /** Our engine: `CompressionStream` (the default) or `node:zlib`. */
  engine?: "stream" | "zlib";
  /** Our threshold (the library's default when absent); `ws` always compresses everything. */
  threshold?: number;
  /** Whether the handshake must settle on permessage-deflate (default true). */
  negotiated?: boolean;
}

/** Collects one report promise per accepted connection. */
export class ReportBox {
  #reports: Promise<ServerReport>[] = [];
  #waiters: (() => void)[] = [];

  /** Adds the report of a connection that just opened. */
  add(report: Promise<ServerReport>): void {
    report.catch(() => {});
    this.#reports.push(report);
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * Waits (at most five seconds: the client has finished by now) for `count`
   * connections, then for the reports of those that came.
   */
  async take(count: number): Promise<ServerReport[]> {
    await within(
      (async () => {
        while (this.#reports.length < count) {
          await new Promise<void>((resolve) => this.#waiters.push(resolve));
        }
      })(),
      `${count} connections`,
      5_000,
    ).catch(() => {});
    return await Promise.all(this.#reports);
  }
}

/**
 * `Deno.upgradeWebSocket` choosing the scenario's subprotocol when it is offered,
 * with the protocol it answered.
 *
 * Two quirks of Deno 2.9.6 are worked around here: its server socket reports
 * `protocol` as `""` even after a subprotocol was agreed, and it splits the
 * offer on `", "` only, throwing (and answering 500) when it is asked to pick a
 * protocol from an offer written without spaces, as `ws` writes it.
 */
export function denoUpgrade(
  req: Request,
): { socket: WebSocket; response: Response; protocol: string } {
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(", ");
  const protocol = offered.includes(PROTOCOL) ? PROTOCOL : "";
  const upgraded = Deno.upgradeWebSocket(req, {
    protocol: protocol || undefined,
  });
  return { ...upgraded, protocol };
}

/**
 * Starts `Deno.serve` with `Deno.upgradeWebSocket` on 127.0.0.1, with TLS (the
 * test certificate of `tests/fixtures/`) when `secure`.
 */
export function startDenoServer(secure = false): ScenarioServer {
  const box = new ReportBox();
  const tls = secure ? { cert: SERVER_CERT, key: SERVER_KEY } : {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
    (req) => {
      const { socket, response, protocol } = denoUpgrade(req);
      const path = new URL(req.url).pathname;
      box.add(serveSocket(socket as SocketLike, path, protocol));
      return response;
    },
  );
  return {
    url: `${secure ? "wss" : "ws"}://127.0.0.1:${server.addr.port}`,
    reports: (count) => box.take(count),
    close: () => server.shutdown(),
  };
}

/** Deno's built-in `WebSocket` as the scenario's client. */
export const denoClient: ScenarioClient = (url) =>
  runClient((u, protocols) => new WebSocket(u, protocols) as SocketLike, url);

/** The `perMessageDeflate` option of `ws` for a variant (or `false`). */
export function wsDeflateOption(
  variant: DeflateVariant | undefined,
): false | Record<string, unknown> {
  if (!variant) return false;
  const option: Record<string, unknown> = { threshold: 0 };
  if (variant.noContextTakeover) {
    option.serverNoContextTakeover = true;
    option.clientNoContextTakeover = true;
  }
  if (variant.maxWindowBits !== undefined) {
    option.serverMaxWindowBits = variant.maxWindowBits;
    option.clientMaxWindowBits = variant.maxWindowBits;
  }
  // A client asks for the server's window; a server limits its own. (A `ws`
  // server with a numeric `clientMaxWindowBits` answers 400 to clients that do
  // not offer `client_max_window_bits`, so that one is left alone.)
  if (variant.peerMaxWindowBits !== undefined) {
    option.serverMaxWindowBits = variant.peerMaxWindowBits;
  }
  return option;
}

/**
 * Starts a `ws` server on 127.0.0.1, on an HTTPS server with the test
 * certificate when `secure`.
 */
export async function startWsServer(
  variant?: DeflateVariant,
  secure = false,
): Promise<ScenarioServer> {
  const box = new ReportBox();
  const https = secure
    ? createHttpsServer({ cert: SERVER_CERT, key: SERVER_KEY })
    : undefined;
  if (https) {
    await within(
      new Promise((resolve) =>
        https.listen(0, "127.0.0.1", () => resolve(null))
      ),
      "https server listening",
    );
  }
  const wss = new WebSocketServer({
    ...(https ? { server: https } : { host: "127.0.0.1", port: 0 }),
    maxPayload: MAX_MESSAGE,
    perMessageDeflate: wsDeflateOption(variant),
    handleProtocols: (offered) => offered.has(PROTOCOL) ? PROTOCOL : false,
  });
  if (!https) {
    await within(
      new Promise((resolve) => wss.once("listening", resolve)),
      "ws server listening",
    );
  }
  wss.on("connection", (socket, req) => {
    box.add(
      serveSocket(
        socket as unknown as SocketLike,
        new URL(req.url ?? "/", "http://x").pathname,
      ),
    );
  });
  const { port } = (https ?? wss).address() as { port: number };
  return {
    url: `${secure ? "wss" : "ws"}://127.0.0.1:${port}`,
    reports: (count) => box.take(count),
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      if (https) await new Promise((resolve) => https.close(resolve));
    },
  };
}

/** `ws` as the scenario's client (trusting the test CA for `wss://`). */
export function wsClient(variant?: DeflateVariant): ScenarioClient {
  return (url) =>
    runClient(
      (u, protocols) =>
        new NodeWebSocket(u, protocols, {
          maxPayload: MAX_MESSAGE,
          perMessageDeflate: wsDeflateOption(variant),
          ca: CA_CERT,
        }) as unknown as SocketLike,
      url,
    );
}

const PAGE_DIR = new URL("./page/", import.meta.url);
const PAGE_FILES: Record<string, string> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/scenario.js": "scenario.js",
  "/messages.js": "messages.js",
};

/** Serves the interop page (`page/`) on 127.0.0.1. */
export function startPageServer(): { url: string; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const file = PAGE_FILES[new URL(req.url).pathname];
      if (!file) return new Response("not found", { status: 404 });
      const body = await Deno.readFile(new URL(file, PAGE_DIR));
      const type = file.endsWith(".js") ? "text/javascript" : "text/html";
      return new Response(body, {
        headers: { "content-type": `${type}; charset=utf-8` },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    close: () => server.shutdown(),
  };
}

/**
 * A Chromium tab as the scenario's client: loads the interop page from
 * `pageUrl` and runs the scenario in it against the given base URL.
 */
export function chromiumClient(
  browser: Chromium,
  pageUrl: string,
  screenshot?: string,
): ScenarioClient {
  return async (url) => {
    const page = await browser.newPage(pageUrl);
    try {
      const report = await page.evaluate<ClientReport>(
        `window.runScenario(${JSON.stringify(url)})`,
        120_000,
      );
      if (screenshot) await Deno.writeFile(screenshot, await page.screenshot());
      return report;
    } finally {
      await page.close().catch(() => {});
    }
  };
}
