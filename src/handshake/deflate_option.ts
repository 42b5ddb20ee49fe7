/**
 * The `deflate` option of `accept`, `dial` and the servers built on them: turns
 * permessage-deflate on with one flag, loading the compression code only when it
 * is asked for.
 *
 * @module
 */

import type { Conn } from "../conn/conn.ts";
import type { DeflateOptions } from "../deflate/negotiate.ts";
import type { ClientExtensions, ServerExtensions } from "../conn/extension.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";

/** permessage-deflate for a handshake: `true`, options, or off. */
export type DeflateOption = boolean | DeflateOptions;

/** The compression code a handshake needs: its extension handler and decorator. */
export interface DeflatePlan<E> {
  extensions: E;
  wrap(conn: Conn): WebSocketConn;
}

type Modules = [
  typeof import("../deflate/extension_handler.ts"),
  typeof import("../deflate/wrap.ts"),
];
let loading: Promise<Modules> | undefined;

function load(): Promise<Modules> {
  return loading ??= Promise.all([
    import("../deflate/extension_handler.ts"),
    import("../deflate/wrap.ts"),
  ]);
}

interface Loaded {
  handlers: Modules[0];
  wrap(conn: Conn): WebSocketConn;
  options: DeflateOptions;
}

/** Loads the compression code when the option turns compression on. */
async function loadFor(
  option: DeflateOption | undefined,
): Promise<Loaded | null> {
  if (option === undefined || option === false) return null;
  const options = option === true ? {} : option;
  if (options.enabled === false) return null;
  const [handlers, decorator] = await load();
  return {
    handlers,
    wrap: (conn) => decorator.wrapNegotiated(conn, options),
    options,
  };
}

/**
 * The server's plan for a `deflate` option, or null when compression is off.
 *
 * @throws {RangeError} For invalid options.
 */
export async function serverDeflate(
  option: DeflateOption | undefined,
): Promise<DeflatePlan<ServerExtensions> | null> {
  const loaded = await loadFor(option);
  if (loaded === null) return null;
  const { handlers, wrap, options } = loaded;
  return { extensions: handlers.deflateServerExtensions(options), wrap };
}

/**
 * The client's plan for a `deflate` option, or null when compression is off.
 *
 * @throws {RangeError} For invalid options.
 */
export async function clientDeflate(
  option: DeflateOption | undefined,
): Promise<DeflatePlan<ClientExtensions> | null> {
  const loaded = await loadFor(option);
  if (loaded === null) return null;
  const { handlers, wrap, options } = loaded;
  return { extensions: handlers.deflateClientExtensions(options), wrap };
}
