/**
 * permessage-deflate (RFC 7692) engines and options for `@wsx/websocket`: the
 * default engine on `CompressionStream`, one on `node:zlib` with windows of 8-15
 * bits and a settable level, the interfaces to plug in another, and
 * {@linkcode wrapDeflate} for a connection whose handshake was done elsewhere.
 *
 * Compression is turned on with the `deflate` option of `accept`, `dial`, `serve`
 * and `createNodeServer`; this entry point is only needed to pick an engine.
 *
 * @example A server and a client that negotiate compression on the zlib engine
 * ```ts ignore
 * import { accept, dial } from "@wsx/websocket";
 * import { zlibEngine } from "@wsx/websocket/deflate";
 *
 * const server = await accept(tcp, { deflate: { engine: zlibEngine(), level: 1 } });
 * const client = await dial("ws://127.0.0.1:8080", { deflate: true });
 * ```
 *
 * @module
 */

export { wrapDeflate } from "./src/deflate/wrap.ts";
export type { DeflateOptions } from "./src/deflate/negotiate.ts";
export type {
  Compressor,
  CompressorOptions,
  Decompressor,
  DeflateEngine,
} from "./src/deflate/compressor.ts";
export { InflateOutput } from "./src/deflate/inflate_output.ts";
export { compressionStreamEngine } from "./src/deflate/compression_stream.ts";
export { zlibEngine } from "./src/deflate/zlib.ts";
export type { ZlibEngineOptions } from "./src/deflate/zlib.ts";
