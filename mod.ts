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

export { CloseCode } from "./src/codec/close_code.ts";
export {
  CloseError,
  HandshakeError,
  WebSocketError,
} from "./src/codec/errors.ts";
export type { ErrorCode, HandshakeErrorOptions } from "./src/codec/errors.ts";
export {
  decodeHeader,
  encodeHeader,
  headerSize,
  newHeader,
  Rsv,
} from "./src/codec/header.ts";
export type { Header } from "./src/codec/header.ts";
export { closePayload } from "./src/codec/close_frame.ts";
export {
  encodeFrame,
  encodeFrameInto,
  frameLength,
  newMaskKey,
} from "./src/codec/frame.ts";
export type { FrameInit } from "./src/codec/frame.ts";
export { fragmentMessage } from "./src/codec/fragment.ts";
export type { FragmentOptions } from "./src/codec/fragment.ts";
export { ChunkSize, ReadLimit } from "./src/codec/limits.ts";
export { maskInPlace } from "./src/codec/mask.ts";
export { OpCode } from "./src/codec/opcode.ts";
export type { DataOpCode } from "./src/codec/opcode.ts";
export { isValidUtf8 } from "./src/codec/utf8.ts";
export type { Transport } from "./src/io/transport.ts";
export { WriteBudget } from "./src/io/write_budget.ts";
export { Conn } from "./src/conn/conn.ts";
export type { ConnOptions } from "./src/conn/conn_options.ts";
export type { StreamOptions } from "./src/conn/chunks.ts";
export type { ReadOptions, WriteOptions } from "./src/conn/deadlines.ts";
export type { ConnHooks, MessageInfo } from "./src/conn/hooks.ts";
export type {
  MessageStream,
  MessageStreamOptions,
} from "./src/conn/stream_reader.ts";
export { PreparedMessage } from "./src/conn/prepared_message.ts";
export type {
  Frame,
  Message,
  WebSocketConn,
} from "./src/conn/websocket_conn.ts";
export { accept, allowOrigins } from "./src/handshake/accept.ts";
export type {
  AcceptOptions,
  HandshakeRequest,
  UpgradeInfo,
} from "./src/handshake/accept.ts";
export { dial } from "./src/handshake/dial.ts";
export type { DialOptions } from "./src/handshake/dial.ts";
export { acceptKey, generateKey, isValidKey } from "./src/handshake/key.ts";
export { checkUpgrade } from "./src/handshake/check_upgrade.ts";
export type {
  UpgradeCheck,
  UpgradeRequestLike,
} from "./src/handshake/check_upgrade.ts";
export { Rejection } from "./src/handshake/rejection.ts";
export type { RejectionInit } from "./src/handshake/rejection.ts";
export type { HeadLimits } from "./src/handshake/http_parse.ts";
export { serve, WebSocketServer } from "./src/servers/serve.ts";
export type { ServeOptions, WebSocketHandler } from "./src/servers/serve.ts";
export { echoHandler, serveMessages } from "./src/servers/serve_messages.ts";
export type { MessageHandler, Reply } from "./src/servers/serve_messages.ts";
export { upgradeWebSocket } from "./src/servers/deno_upgrade.ts";
export { DenoWebSocketConn } from "./src/servers/deno_websocket_conn.ts";
export type { UpgradeWebSocketOptions } from "./src/servers/deno_upgrade.ts";
