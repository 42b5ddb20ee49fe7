/**
 * HTTP/2 sessions for clients: one per origin, kept by an agent, telling whether
 * the server allows WebSockets as streams (`SETTINGS_ENABLE_CONNECT_PROTOCOL`).
 *
 * @module
 */

import { type ClientHttp2Session, connect } from "node:http2";
import { defer } from "./defer.ts";

/** How a session is opened: extra CA certificates for TLS, and when to give up. */
export interface SessionOptions {
  /** PEM certificates to trust for `https:`, besides the system's roots. */
  caCerts?: string[];
  /** Gives up connecting when it aborts. */
  signal: AbortSignal;
}

/**
 * Keeps one HTTP/2 connection per origin and opens each WebSocket dialled through
 * it as a stream of that connection (RFC 8441). Pass it as `http2` to `dial` or
 * as `agent` to `dialHttp2`. An origin whose server does not advertise extended
 * CONNECT is remembered, and its WebSockets go over HTTP/1.1.
 *
 * @example Two WebSockets on one connection
 * ```ts ignore
 * import { Http2Agent } from "@wsx/websocket/http2";
 * import { dial } from "@wsx/websocket";
 *
 * const agent = new Http2Agent();
 * const a = await dial("wss://example.com/a", { http2: agent });
 * const b = await dial("wss://example.com/b", { http2: agent });
 * await Promise.all([a.close(), b.close()]);
 * agent.close();
 * ```
 */
export class Http2Agent {
  readonly #sessions = new Map<string, Promise<ClientHttp2Session | null>>();

  /** How many origins have an open session or one being opened. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The session for an origin, opened on first use; `null` when the server does
   * not speak HTTP/2 or does not allow extended CONNECT.
   *
   * @param origin `http://host:port` or `https://host:port`.
   * @param options TLS roots and an abort signal.
   */
  session(
    origin: string,
    options: { caCerts?: string[]; signal: AbortSignal },
  ): Promise<ClientHttp2Session | null> {
    const known = this.#sessions.get(origin);
    if (known !== undefined) return known;
    const opening = openSession(origin, options).then((session) => {
      session?.once("close", () => {
        if (this.#sessions.get(origin) === opening) {
          this.#sessions.delete(origin);
        }
      });
      return session;
    }, (err) => {
      this.#sessions.delete(origin);
      throw err;
    });
    this.#sessions.set(origin, opening);
    return opening;
  }

  /** Closes every session: open streams finish, then the connections close. */
  close(): void {
    for (const opening of this.#sessions.values()) {
      opening.then(
        (session) => session && defer(() => session.close()),
        () => {},
      );
    }
    this.#sessions.clear();
  }
}

/**
 * Connects to an origin and waits for the server's first SETTINGS.
 *
 * @example
 * ```ts ignore
 * import { openSession } from "./agent.ts";
 *
 * const session = await openSession("https://example.com", { signal: AbortSignal.timeout(5_000) });
 * session?.close();
 * ```
 *
 * @returns The session, or `null` when the server does not speak HTTP/2 or does
 * not allow extended CONNECT (the session is closed then).
 * @throws The signal's reason when it aborts first.
 */
export function openSession(
  origin: string,
  options: SessionOptions,
): Promise<ClientHttp2Session | null> {
  const { signal } = options;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const session = connect(origin, {
      ca: options.caCerts,
      ALPNProtocols: ["h2"],
    });
    const finish = (result: ClientHttp2Session | null, err?: unknown) => {
      session.off("remoteSettings", onSettings);
      session.off("error", onError);
      session.off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      if (result === null) defer(() => session.destroy());
      if (err !== undefined) reject(err);
      else resolve(result);
    };
    const onSettings = (settings: { enableConnectProtocol?: boolean }) =>
      finish(settings.enableConnectProtocol ? session : null);
    // Not HTTP/2 (a refused preface, another ALPN): HTTP/1.1 is left.
    const onError = () => finish(null);
    const onClose = () => finish(null);
    const onAbort = () => finish(null, signal.reason);
    session.once("remoteSettings", onSettings);
    session.once("error", onError);
    session.once("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
    // A session's late error is its streams' to report.
    session.on("error", () => {});
  });
}
