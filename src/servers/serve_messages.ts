/**
 * Request/response serving on one connection: a handler runs per message and
 * its reply, if any, is written back. {@linkcode echoHandler} replies with the
 * message itself.
 *
 * @module
 */

import { CloseCode } from "../codec/close_code.ts";
import { CloseError } from "../codec/errors.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import type { Message, WebSocketConn } from "../conn/websocket_conn.ts";

/**
 * What a {@linkcode MessageHandler} answers: a string (sent as text), bytes (sent
 * as binary), an opcode and data, or nothing (no reply).
 *
 * @example
 * ```ts
 * import { OpCode, type Reply } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const replies: Reply[] = ["text", new Uint8Array([1]), { opcode: OpCode.Text, data: "t" }, undefined];
 * assertEquals(replies.length, 4);
 * ```
 */
export type Reply =
  | string
  | Uint8Array
  | { opcode: DataOpCode; data: Uint8Array | string }
  | null
  | undefined
  | void;

/**
 * Answers one message. The message (and its data) is valid until the reply is
 * written: copy what must outlive it.
 *
 * @example A handler that upper-cases text and ignores binary
 * ```ts
 * import { type MessageHandler, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const shout: MessageHandler = (msg) =>
 *   msg.opcode === OpCode.Text ? new TextDecoder().decode(msg.data).toUpperCase() : undefined;
 * assertEquals(shout({ opcode: OpCode.Text, data: new TextEncoder().encode("hi"), rsv: 0 }, null!), "HI");
 * ```
 */
export type MessageHandler = (
  message: Message,
  conn: WebSocketConn,
) => Reply | Promise<Reply>;

/**
 * Replies to every message with the message itself: its opcode and its bytes,
 * with no copy.
 *
 * @example
 * ```ts
 * import { echoHandler, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const msg = { opcode: OpCode.Binary, data: new Uint8Array([1, 2]), rsv: 0 } as const;
 * assertEquals(echoHandler(msg), msg);
 * ```
 *
 * @param message The message received.
 * @returns The same message, as the reply.
 */
export function echoHandler(message: Message): Message {
  return message;
}

/**
 * Runs `handler` on each message of `conn`, one at a time, and writes its reply.
 *
 * Resolves when the peer closes the connection (the closing handshake is
 * answered). A handler that throws or rejects closes the connection with 1011
 * ("Handler failed": the error's text is not sent), and the promise rejects with
 * its error; a protocol or transport failure rejects with its
 * {@linkcode WebSocketError} (the connection has already sent its close code).
 * A synchronous handler's reply is written without an extra promise turn.
 *
 * @example An echo server
 * ```ts
 * import { dial, echoHandler, OpCode, serve, serveMessages } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (conn) => serveMessages(conn, echoHandler),
 * );
 * const client = await dial(`ws://127.0.0.1:${server.addr.port}`);
 * await client.writeMessage(OpCode.Text, "ping?");
 * assertEquals(new TextDecoder().decode((await client.readMessage()).data), "ping?");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @param conn The connection, after its handshake.
 * @param handler Answers each message.
 * @returns Resolves once the peer has closed.
 */
export async function serveMessages(
  conn: WebSocketConn,
  handler: MessageHandler,
): Promise<void> {
  for (;;) {
    let message: Message;
    try {
      message = await conn.readMessage();
    } catch (err) {
      if (err instanceof CloseError) return;
      throw err;
    }
    let reply: Reply | Promise<Reply>;
    try {
      reply = handler(message, conn);
      if (isThenable(reply)) reply = await reply;
    } catch (err) {
      await conn.close(CloseCode.InternalServerError, "Handler failed")
        .catch(() => conn.abort());
      throw err;
    }
    if (reply === undefined || reply === null) continue;
    if (typeof reply === "string") {
      await conn.writeMessage(OpCode.Text, reply);
    } else if (reply instanceof Uint8Array) {
      await conn.writeMessage(OpCode.Binary, reply);
    } else await conn.writeMessage(reply.opcode, reply.data);
  }
}

function isThenable(value: unknown): value is PromiseLike<Reply> {
  return typeof (value as PromiseLike<Reply> | null)?.then === "function";
}
