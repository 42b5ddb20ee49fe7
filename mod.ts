/**
 * A minimal, low-allocation WebSocket transport for Deno: RFC 6455 framing, the
 * closing handshake and limits, with permessage-deflate (RFC 7692) as a decorator.
 *
 * `Conn` wraps a `Deno.Conn`, a `Deno.TlsConn` or any byte stream pair. Reads go
 * into preallocated buffers and writes are assembled in a preallocated scratchpad;
 * nothing runs in the background, so the caller owns scheduling, buffers and
 * keep-alive.
 *
 * @example An echo server on a raw listener
 * ```ts ignore
 * import { accept, CloseError } from "@wsx/websocket";
 *
 * for await (const tcp of Deno.listen({ hostname: "127.0.0.1", port: 9001 })) {
 *   (async () => {
 *     const conn = await accept(tcp);
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   })().catch((err) => console.error(err));
 * }
 * ```
 *
 * @module
 */

export * from "./src/opcode.ts";
export * from "./src/close_code.ts";
export * from "./src/errors.ts";
export * from "./src/limits.ts";
export * from "./src/header.ts";
export * from "./src/mask.ts";
export { isValidUtf8, Utf8Validator } from "./src/utf8.ts";
export type { ReadMode, Transport } from "./src/transport.ts";
export * from "./src/websocket_conn.ts";
export * from "./src/conn.ts";
export * from "./src/prepared_message.ts";
export { accept, allowOrigins } from "./src/accept.ts";
export type {
  AcceptOptions,
  HandshakeRequest,
  HookResult,
  ProtocolSelector,
} from "./src/accept.ts";
export { dial } from "./src/dial.ts";
export type { DialOptions } from "./src/dial.ts";
export type { DeflateOption } from "./src/deflate_option.ts";
export type { DeflateOptions } from "./src/deflate/negotiate.ts";
export { serve, WebSocketServer } from "./src/serve.ts";
export type { ServeOptions, WebSocketHandler } from "./src/serve.ts";
export { DenoWebSocketConn, upgradeWebSocket } from "./src/deno_upgrade.ts";
export type { UpgradeWebSocketOptions } from "./src/deno_upgrade.ts";
export { acceptKey, reject, Rejection } from "./src/handshake.ts";
export type {
  ClientExtensions,
  ExtensionAgreement,
  RejectionInit,
  ServerExtensions,
} from "./src/handshake.ts";
export { HttpStatus } from "./src/http.ts";
export type { HeadLimits, HttpRequest } from "./src/http.ts";
