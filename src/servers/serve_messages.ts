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
  // Kept small: an idle connection waits in this frame, whose size grows with
  // its locals; the rare branches are in the functions below.
  for (;;) {
    let message: Message;
    try {
      message = await conn.readMessage();
    } catch (err) {
      return endAtClose(err);
    }
    let reply: Reply | PromiseLike<Reply>;
    try {
      reply = handler(message, conn);
    } catch (err) {
      return handlerFailed(conn, err);
    }
    if (isThenable(reply)) reply = await awaitReply(conn, reply);
    if (reply !== undefined && reply !== null) await send(conn, reply);
  }
}

/** A read's failure: the end at the peer's close, else thrown. */
function endAtClose(err: unknown): void {
  if (!(err instanceof CloseError)) throw err;
}

/** An asynchronous handler's reply; one that rejects closes the connection (1011). */
async function awaitReply(
  conn: WebSocketConn,
  reply: PromiseLike<Reply>,
): Promise<Reply> {
  try {
    return await reply;
  } catch (err) {
    return handlerFailed(conn, err);
  }
}

/** Closes the connection for a handler's failure (1011), then throws it. */
async function handlerFailed(
  conn: WebSocketConn,
  err: unknown,
): Promise<never> {
  await conn.close(CloseCode.InternalServerError, "Handler failed")
    .catch(() => conn.abort());
  throw err;
}

function send(
  conn: WebSocketConn,
  reply: Exclude<Reply, null | undefined | void>,
): Promise<void> {
  if (typeof reply === "string") return conn.writeMessage(OpCode.Text, reply);
  if (reply instanceof Uint8Array) {
    return conn.writeMessage(OpCode.Binary, reply);
  }
  return conn.writeMessage(reply.opcode, reply.data);
}

function isThenable(value: unknown): value is PromiseLike<Reply> {
  return typeof (value as PromiseLike<Reply> | null)?.then === "function";
}
