/**
 * The server's check of an upgrade request as one pure function, for servers
 * that do their own HTTP: is it a valid WebSocket upgrade, and what is the
 * `Sec-WebSocket-Accept` that answers it.
 *
 * @module
 */

import { acceptKey } from "./key.ts";
import { Rejection } from "./rejection.ts";
import { checkRequest } from "./server_handshake.ts";

/**
 * What an upgrade request is checked from: a `Request` fits, and so does a
 * request parsed by another HTTP server.
 *
 * @example
 * ```ts
 * import type { UpgradeRequestLike } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const req: UpgradeRequestLike = { method: "GET", headers: { host: "example.com" } };
 * assertEquals(req.method, "GET");
 * ```
 */
export interface UpgradeRequestLike {
  /** The method; only `"GET"` upgrades. */
  method: string;
  /** The header fields. */
  headers: HeadersInit;
  /** The HTTP version, such as `"HTTP/1.1"` (the default). */
  version?: string;
}

/**
 * The outcome of {@linkcode checkUpgrade}: the answer's values, or the refusal.
 *
 * @example
 * ```ts
 * import type { UpgradeCheck } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const ok: UpgradeCheck = { ok: true, accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocols: [], extensions: "" };
 * assertEquals(ok.ok, true);
 * ```
 */
export type UpgradeCheck =
  | {
    ok: true;
    /** The `Sec-WebSocket-Accept` value for the 101 answer. */
    accept: string;
    /** The subprotocols offered, most preferred first. */
    protocols: string[];
    /** The `Sec-WebSocket-Extensions` offer, or `""`. */
    extensions: string;
  }
  | {
    ok: false;
    /** The refusal to answer with: its status, header fields and body. */
    rejection: Rejection;
  };

/**
 * Checks an upgrade request against RFC 6455 §4.2.1 (the method, `Host`,
 * `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`, no body,
 * token subprotocols) and computes the accept value; the same check
 * {@linkcode accept} makes.
 *
 * @example A valid request, and one that forgot the version
 * ```ts
 * import { checkUpgrade } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const headers = {
 *   host: "example.com",
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 * };
 * const bad = await checkUpgrade({ method: "GET", headers });
 * assertEquals(bad.ok ? 0 : bad.rejection.status, 426);
 * const good = await checkUpgrade({
 *   method: "GET",
 *   headers: { ...headers, "sec-websocket-version": "13" },
 * });
 * assertEquals(good.ok && good.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 *
 * @param request The method, header fields and version.
 * @returns The accept value and offers, or a {@linkcode Rejection}: 405 for a
 * method other than GET, 426 when it does not ask for WebSocket version 13, 400
 * for anything else that is wrong.
 * @throws {TypeError} When a header field is not a valid name or value.
 */
export async function checkUpgrade(
  request: UpgradeRequestLike,
): Promise<UpgradeCheck> {
  try {
    const offer = checkRequest({
      method: request.method,
      target: "/",
      version: request.version ?? "HTTP/1.1",
      headers: new Headers(request.headers),
    });
    return {
      ok: true,
      accept: await acceptKey(offer.key),
      protocols: offer.protocols,
      extensions: offer.extensions,
    };
  } catch (err) {
    if (err instanceof Rejection) return { ok: false, rejection: err };
    throw err;
  }
}
