/**
 * Putting permessage-deflate on a connection: after a handshake that agreed on
 * it, here or elsewhere.
 *
 * @module
 */

import { Rsv } from "../codec/header.ts";
import type { Conn } from "../conn/conn.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import type { DeflateEngine } from "./compressor.ts";
import {
  type DeflateOptions,
  type DeflateParams,
  deflateParamsOf,
} from "./negotiate.ts";
import { PerMessageDeflateConn } from "./permessage_deflate_conn.ts";
import { zlibEngine } from "./zlib.ts";

/**
 * Adds permessage-deflate to a connection whose opening handshake was done
 * elsewhere and agreed on it: parameters from `conn.extensions` (all defaults
 * when it is empty), level, threshold and engine from `options`. A connection
 * that cannot carry compressed frames is refused, so that no RSV1 frame ever
 * goes to a peer that did not agree. (`accept`, `dial` and the servers take a
 * `deflate` option instead and wrap for you.)
 *
 * @param conn A connection built with `rsvAllowed: Rsv.Rsv1`.
 * @param options Level, threshold, engine and this side's preferences.
 * @returns The connection with compression.
 * @throws {TypeError} When `conn` was not built with `rsvAllowed: Rsv.Rsv1`, or
 * its `extensions` name others but not permessage-deflate.
 *
 * @example Both ends of an upgraded stream pair
 * ```ts
 * import { Conn, OpCode, Rsv } from "@wsx/websocket";
 * import { wrapDeflate, zlibEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const up = new TransformStream<Uint8Array, Uint8Array>();
 * const down = new TransformStream<Uint8Array, Uint8Array>();
 * const agreed = { rsvAllowed: Rsv.Rsv1, extensions: "permessage-deflate" };
 * const client = wrapDeflate(
 *   new Conn({ readable: down.readable, writable: up.writable }, { role: "client", ...agreed }),
 * );
 * const server = wrapDeflate(
 *   new Conn({ readable: up.readable, writable: down.writable }, { role: "server", ...agreed }),
 *   { engine: zlibEngine(), level: 1 },
 * );
 * await client.writeMessage(OpCode.Text, "hello ".repeat(100));
 * const msg = await server.readMessage();
 * assertEquals(msg.rsv, Rsv.Rsv1);
 * assertEquals(new TextDecoder().decode(msg.data), "hello ".repeat(100));
 * client.abort();
 * server.abort();
 * ```
 */
export function wrapDeflate(
  conn: Conn,
  options: DeflateOptions = {},
): WebSocketConn {
  if ((conn.rsvAllowed & Rsv.Rsv1) === 0) {
    throw new TypeError(
      "Cannot compress: the connection was not built with rsvAllowed: Rsv.Rsv1",
    );
  }
  const params = deflateParamsOf(conn.extensions);
  if (params === null && conn.extensions !== "") {
    throw new TypeError(
      `Cannot compress: the handshake agreed on "${conn.extensions}", not permessage-deflate`,
    );
  }
  return new PerMessageDeflateConn(
    conn,
    params,
    withEngine(conn, params, options),
  );
}

/**
 * Wraps a connection when its handshake negotiated permessage-deflate, and
 * returns it unchanged otherwise: the step after a handshake with a `deflate`
 * option.
 */
export function wrapNegotiated(
  conn: Conn,
  options: DeflateOptions = {},
): WebSocketConn {
  const params = deflateParamsOf(conn.extensions);
  return params === null ? conn : new PerMessageDeflateConn(
    conn,
    params,
    withEngine(conn, params, options),
  );
}

let smallWindows: DeflateEngine | undefined;

/**
 * The options a connection compresses with: as given, but with `zlibEngine()`
 * in place of the default engine when this side's window must be below 15 bits,
 * which `CompressionStream` cannot keep.
 */
function withEngine(
  conn: Conn,
  params: DeflateParams | null,
  options: DeflateOptions,
): DeflateOptions {
  if (options.engine !== undefined) return options;
  const server = conn.role === "server";
  const agreed = server
    ? params?.serverMaxWindowBits
    : params?.clientMaxWindowBits;
  const own = server
    ? options.serverMaxWindowBits
    : options.clientMaxWindowBits;
  if (Math.min(agreed ?? 15, own ?? 15) === 15) return options;
  return { ...options, engine: smallWindows ??= zlibEngine() };
}
