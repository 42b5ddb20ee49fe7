/**
 * Lifecycle hooks: callbacks a connection makes as frames and messages go by,
 * for metrics and debug logging. A connection without hooks runs none of this
 * code: its hot paths are the same as before hooks existed.
 *
 * @module
 */

import type { CloseCode } from "../codec/close_code.ts";
import { CloseError } from "../codec/errors.ts";
import { decodeHeader, type Header, newHeader } from "../codec/header.ts";
import type { DataOpCode } from "../codec/opcode.ts";
import { FrameWriter, RAW } from "../io/frame_writer.ts";
import type { ByteSink } from "../io/transport.ts";
import type { WriteBudget } from "../io/write_budget.ts";
import type { Message, WebSocketConn } from "./websocket_conn.ts";

const encoder = new TextEncoder();

/**
 * A message as the hooks see it. The object is reused: it is valid during the
 * call only.
 *
 * @example
 * ```ts
 * import { type MessageInfo, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const info: MessageInfo = { opcode: OpCode.Text, rsv: 0, length: 2, data: null };
 * assertEquals(info.data, null); // a streamed message: only its length is known
 * ```
 */
export interface MessageInfo {
  /** `OpCode.Text` or `OpCode.Binary`. */
  opcode: DataOpCode;
  /** The RSV bits of its first frame on the wire. */
  rsv: number;
  /** Its length in bytes, as the application reads or wrote it. */
  length: number;
  /** Its payload, or `null` for a streamed message (whose bytes went by in pieces). */
  data: Uint8Array | null;
}

/**
 * Callbacks for the life of a connection. Every one is optional, and each gets
 * the connection last (the one the caller holds: the compressing one when
 * permessage-deflate was agreed), so that one set of hooks can serve every
 * connection of a server. Headers, payloads and message objects are valid
 * during the call only. A hook must not throw: what it throws fails the
 * operation it was called from.
 *
 * Frame hooks see frames as they are on the wire (compressed payloads with RSV1
 * set under permessage-deflate; payloads unmasked). Message hooks see messages
 * as the application reads and writes them (inflated).
 *
 * @example Counting messages and bytes
 * ```ts
 * import { type ConnHooks, Conn, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * let messages = 0, bytes = 0;
 * const hooks: ConnHooks = {
 *   onWriteMessage: (m) => { messages++; bytes += m.length; },
 * };
 * const { writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const conn = new Conn({ readable: new ReadableStream(), writable }, { role: "server", hooks });
 * await conn.writeMessage(OpCode.Text, "hello");
 * assertEquals([messages, bytes], [1, 5]);
 * conn.abort();
 * ```
 */
export interface ConnHooks {
  /**
   * A frame was read. For a message read as a stream, data frames come with an
   * empty payload (their bytes go to the caller in pieces).
   */
  onReadFrame?: (
    header: Header,
    payload: Uint8Array,
    conn: WebSocketConn,
  ) => void;
  /** A whole message was read. */
  onReadMessage?: (message: MessageInfo, conn: WebSocketConn) => void;
  /** A frame was handed to the writer (its payload before masking). */
  onWriteFrame?: (
    header: Header,
    payload: Uint8Array,
    conn: WebSocketConn,
  ) => void;
  /** A whole message was handed to the writer. */
  onWriteMessage?: (message: MessageInfo, conn: WebSocketConn) => void;
  /** A read failed (not for the close frame that ends reading). */
  onReadError?: (error: unknown, conn: WebSocketConn) => void;
  /** A write failed. */
  onWriteError?: (error: unknown, conn: WebSocketConn) => void;
  /**
   * The connection closed: its close code, reason, and the error that failed it
   * (`null` after a closing handshake).
   */
  onClose?: (
    code: CloseCode,
    reason: string,
    error: unknown,
    conn: WebSocketConn,
  ) => void;
}

/**
 * The hooks of one connection as it calls them. A decorator that changes what a
 * message is (permessage-deflate) takes the message hooks over with
 * {@linkcode takeMessageHooks}: the connection underneath then calls only the
 * frame, error and close hooks.
 */
export class HookSet {
  readonly hooks: ConnHooks;
  /** The connection the hooks are told about: the outermost one. */
  owner: WebSocketConn;
  /** Whether this connection calls the message hooks (not a decorator above it). */
  messages = true;
  readonly #info: MessageInfo = {
    opcode: 1,
    rsv: 0,
    length: 0,
    data: null,
  };

  constructor(hooks: ConnHooks, owner: WebSocketConn) {
    this.hooks = hooks;
    this.owner = owner;
  }

  /** Calls `onReadFrame`. */
  readFrame = (header: Header, payload: Uint8Array): void => {
    this.hooks.onReadFrame?.(header, payload, this.owner);
  };

  /** Calls `onWriteFrame`. */
  wroteFrame = (header: Header, payload: Uint8Array): void => {
    this.hooks.onWriteFrame?.(header, payload, this.owner);
  };

  /** Calls `onClose`. */
  closed(code: CloseCode, reason: string, error: unknown): void {
    this.hooks.onClose?.(code, reason, error, this.owner);
  }

  /** Calls `onReadMessage`, when this connection calls the message hooks. */
  readMessage(
    opcode: DataOpCode,
    rsv: number,
    data: Uint8Array | null,
    length: number,
  ): void {
    const hook = this.hooks.onReadMessage;
    if (hook !== undefined && this.messages) {
      hook(this.#fill(opcode, rsv, data, length), this.owner);
    }
  }

  /** Calls `onWriteMessage`, when this connection calls the message hooks. */
  wroteMessage(
    opcode: DataOpCode,
    rsv: number,
    data: Uint8Array | string | null,
    length: number,
  ): void {
    const hook = this.hooks.onWriteMessage;
    if (hook === undefined || !this.messages) return;
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    hook(this.#fill(opcode, rsv, bytes, bytes?.length ?? length), this.owner);
  }

  /** Passes a message that a read returned on to `onReadMessage`. */
  messageRead = (message: Message): Message => {
    this.readMessage(
      message.opcode,
      message.rsv,
      message.data,
      message.data.length,
    );
    return message;
  };

  /** Passes a failed read on to `onReadError` (a close frame is not a failure). */
  readError = (error: unknown): never => {
    if (!isCloseError(error)) this.hooks.onReadError?.(error, this.owner);
    throw error;
  };

  /** Passes a failed write on to `onWriteError`. */
  writeError = (error: unknown): never => {
    this.hooks.onWriteError?.(error, this.owner);
    throw error;
  };

  #fill(
    opcode: DataOpCode,
    rsv: number,
    data: Uint8Array | null,
    length: number,
  ): MessageInfo {
    const info = this.#info;
    info.opcode = opcode;
    info.rsv = rsv;
    info.data = data;
    info.length = length;
    return info;
  }
}

const hookSets = new WeakMap<object, HookSet>();

/** Records the hooks of a connection, for a decorator to take over. */
export function registerHooks(conn: object, set: HookSet): void {
  hookSets.set(conn, set);
}

/**
 * Takes over the message hooks of `conn` for `decorator`: `conn` stops calling
 * them, the decorator (which changes what a message is) calls them instead, and
 * every hook is told about the decorator from now on.
 *
 * @returns The hooks, or `null` when `conn` has none.
 */
export function takeMessageHooks(
  conn: object,
  decorator: WebSocketConn,
): HookSet | null {
  const set = hookSets.get(conn);
  if (set === undefined) return null;
  set.messages = false;
  set.owner = decorator;
  return new HookSet(set.hooks, decorator);
}

function isCloseError(error: unknown): boolean {
  return error instanceof CloseError;
}

/**
 * A frame writer that reports every frame to `onWriteFrame` before writing it:
 * built instead of a plain one only when that hook is set.
 */
export class HookedFrameWriter extends FrameWriter {
  readonly #onFrame: (header: Header, payload: Uint8Array) => void;
  readonly #header: Header = newHeader();
  readonly #masked: boolean;
  #inText = false;

  constructor(
    onFrame: (header: Header, payload: Uint8Array) => void,
    sink: ByteSink,
    masked: boolean,
    chunkSize: number,
    highWaterMark?: number,
    limit?: number,
    budget?: WriteBudget | null,
  ) {
    super(sink, masked, chunkSize, highWaterMark, limit, budget);
    this.#onFrame = onFrame;
    this.#masked = masked;
  }

  override write(first: number, payload: Uint8Array): Promise<void> {
    if (this.#inText) {
      this.#inText = false;
    } else if (first === RAW) {
      this.#reportRaw(payload);
    } else {
      this.#report(first, payload);
    }
    return super.write(first, payload);
  }

  override tryWrite(first: number, payload: Uint8Array): boolean {
    const taken = super.tryWrite(first, payload);
    if (taken) this.#report(first, payload);
    return taken;
  }

  override writeLater(first: number, take: () => Uint8Array): Promise<void> {
    return super.writeLater(first, () => {
      const payload = take();
      this.#report(first, payload);
      return payload;
    });
  }

  override writeText(first: number, text: string): Promise<void> {
    this.#report(first, encoder.encode(text));
    // A text too large for the scratchpad comes back through write(): once is enough.
    this.#inText = true;
    try {
      return super.writeText(first, text);
    } finally {
      this.#inText = false;
    }
  }

  #report(first: number, payload: Uint8Array): void {
    const h = this.#header;
    h.fin = (first & 0x80) !== 0;
    h.rsv = first & 0x70;
    h.opcode = first & 0x0f;
    h.masked = this.#masked;
    h.length = payload.length;
    this.#onFrame(h, payload);
  }

  /** Reports each frame of bytes framed beforehand (a prepared message). */
  #reportRaw(bytes: Uint8Array): void {
    const h = this.#header;
    for (let at = 0; at < bytes.length;) {
      const size = decodeHeader(bytes, at, bytes.length, h);
      if (size <= 0) return;
      const start = at + size;
      this.#onFrame(h, bytes.subarray(start, start + h.length));
      at = start + h.length;
    }
  }
}
