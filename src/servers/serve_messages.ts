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
export function serveMessages(
  conn: WebSocketConn,
  handler: MessageHandler,
): Promise<void> {
  return new MessageServer(conn, handler).done;
}

/**
 * The loop of {@linkcode serveMessages} as a chain of two bound callbacks
 * rather than an async function: an idle connection waits in a read, and a
 * suspended async function (its frame, its await closures) costs more than a
 * pending `then`. Nothing is allocated per message beyond the promises of the
 * read and of the write.
 */
class MessageServer {
  readonly done: Promise<void>;
  #conn: WebSocketConn;
  #handler: MessageHandler;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;
  /** A reply is being written: a failure now is the write's, never the end. */
  #writing = false;
  #onReply: ((reply: Reply) => void) | null = null;
  #onHandlerError: ((err: unknown) => void) | null = null;
  // Bound methods rather than arrow functions: no closure context besides.
  #step = this.#next.bind(this);
  #stop = this.#end.bind(this);

  constructor(conn: WebSocketConn, handler: MessageHandler) {
    this.#conn = conn;
    this.#handler = handler;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#read();
  }

  #read(): void {
    let read: Promise<Message>;
    try {
      read = this.#conn.readMessage();
    } catch (err) {
      return this.#stop(err);
    }
    read.then(this.#step, this.#stop);
  }

  /** A message read (then handled), or `undefined` once a reply is written. */
  #next(message: Message | void): void {
    if (message === undefined) {
      this.#writing = false;
      return this.#read();
    }
    let reply: Reply | PromiseLike<Reply>;
    try {
      reply = this.#handler(message, this.#conn);
    } catch (err) {
      return this.#handlerFailed(err);
    }
    if (!isThenable(reply)) return this.#reply(reply);
    this.#awaitReply(reply);
  }

  /** An asynchronous handler's reply; one that rejects closes the connection (1011). */
  #awaitReply(reply: PromiseLike<Reply>): void {
    reply.then(
      this.#onReply ??= (r) => this.#reply(r),
      this.#onHandlerError ??= (err) => this.#handlerFailed(err),
    );
  }

  /** A read or write failed: the end at the peer's close, else an error. */
  #end(err: unknown): void {
    if (!this.#writing && err instanceof CloseError) this.#resolve();
    else this.#reject(err);
  }

  #reply(reply: Reply): void {
    if (reply === undefined || reply === null) return this.#read();
    this.#writing = true;
    let written: Promise<void>;
    try {
      written = send(this.#conn, reply);
    } catch (err) {
      return this.#stop(err);
    }
    written.then(this.#step, this.#stop);
  }

  /** Closes the connection for a handler's failure (1011), then rejects with it. */
  #handlerFailed(err: unknown): void {
    const conn = this.#conn;
    conn.close(CloseCode.InternalServerError, "Handler failed")
      .catch(() => conn.abort())
      .then(() => this.#reject(err));
  }
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
