/**
 * permessage-deflate (RFC 7692) for `@wsx/websocket`: negotiation, the
 * {@linkcode PerMessageDeflateConn} decorator, and two DEFLATE engines — the
 * default on `CompressionStream`, and one on `node:zlib` with windows of 8-15
 * bits and a settable level.
 *
 * A separate entry point, so that servers without compression do not load it.
 *
 * @example A server and a client that negotiate compression
 * ```ts ignore
 * import { accept, dial } from "@wsx/websocket";
 * import {
 *   deflateClientExtensions,
 *   deflateServerExtensions,
 *   wrapNegotiated,
 * } from "@wsx/websocket/deflate";
 *
 * const server = wrapNegotiated(
 *   await accept(tcp, { extensionHandler: deflateServerExtensions() }),
 * );
 * const client = wrapNegotiated(
 *   await dial("ws://127.0.0.1:8080", { extensionHandler: deflateClientExtensions() }),
 * );
 * ```
 *
 * @module
 */

export * from "./src/deflate/extension_header.ts";
export * from "./src/deflate/negotiate.ts";
export * from "./src/deflate/compressor.ts";
export * from "./src/deflate/inflate_output.ts";
export * from "./src/deflate/compression_stream.ts";
export * from "./src/deflate/zlib.ts";
export * from "./src/deflate/permessage_deflate_conn.ts";
export * from "./src/deflate/extension_handler.ts";
