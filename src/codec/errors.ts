/**
 * Errors raised by connections and handshakes.
 *
 * @module
 */

import { CloseCode } from "./close_code.ts";

/**
 * Stable, machine-readable reasons for a {@linkcode WebSocketError}.
 *
 * | code | close code | meaning |
 * | --- | --- | --- |
 * | `message_too_big` | 1009 | a message or frame exceeds the read limit |
 * | `frame_too_big` | 1009 | a frame exceeds the maximum frame size |
 * | `buffer_too_small` | 1009 | the caller's buffer cannot hold the frame or message |
 * | `too_many_fragments` | 1009 | a message has more fragments than allowed |
 * | `reserved_bits` | 1002 | RSV bits set that no extension negotiated |
 * | `invalid_opcode` | 1002 | a reserved opcode |
 * | `control_too_large` | 1002 | a control frame payload over 125 bytes |
 * | `control_fragmented` | 1002 | a control frame without FIN |
 * | `unexpected_continuation` | 1002 | a continuation frame with no message open |
 * | `expected_continuation` | 1002 | a new data frame inside a fragmented message |
 * | `unmasked_frame` | 1002 | a client frame without a mask |
 * | `masked_frame` | 1002 | a server frame with a mask |
 * | `invalid_length` | 1002 | a 64-bit length with the top bit set |
 * | `invalid_close_payload` | 1002 | a 1-byte close payload |
 * | `invalid_close_code` | 1002 | a close code that may not appear on the wire |
 * | `invalid_utf8` | 1007 | a text message or close reason that is not UTF-8 |
 * | `invalid_compressed_data` | 1007 | a compressed message that does not inflate |
 * | `closed` | 1006 | the connection is closed (read or write after close) |
 * | `pong_timeout` | 1006 | the peer did not answer a keep-alive ping in time |
 * | `idle_timeout` | 1001 | nothing arrived for the idle timeout while a read waited |
 * | `read_timeout` | 1011 | a read timed out after bytes of its message arrived |
 * | `read_aborted` | 1011 | a read's signal aborted after bytes of its message arrived |
 * | `write_timeout` | 1006 | a write waited for the transport past the write timeout |
 * | `write_aborted` | 1006 | a write's signal aborted while it waited for the transport |
 * | `write_buffer_full` | 1013 | queued writes would exceed the write buffer limit |
 * | `read_queue_full` | 1008 | more unread messages arrived than the receive queue holds (`Deno.serve` adapter) |
 * | `internal_error` | 1011 | an extension failed in a way the peer did not cause |
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const code: ErrorCode = "invalid_utf8";
 * assertEquals(code, "invalid_utf8");
 * ```
 */
export type ErrorCode =
  | "message_too_big"
  | "frame_too_big"
  | "buffer_too_small"
  | "too_many_fragments"
  | "reserved_bits"
  | "invalid_opcode"
  | "control_too_large"
  | "control_fragmented"
  | "unexpected_continuation"
  | "expected_continuation"
  | "unmasked_frame"
  | "masked_frame"
  | "invalid_length"
  | "invalid_close_payload"
  | "invalid_close_code"
  | "invalid_utf8"
  | "invalid_compressed_data"
  | "closed"
  | "pong_timeout"
  | "idle_timeout"
  | "read_timeout"
  | "read_aborted"
  | "write_timeout"
  | "write_aborted"
  | "write_buffer_full"
  | "read_queue_full"
  | "internal_error";

const CLOSE_CODE_OF: Record<ErrorCode, CloseCode> = {
  message_too_big: CloseCode.MessageTooBig,
  frame_too_big: CloseCode.MessageTooBig,
  buffer_too_small: CloseCode.MessageTooBig,
  too_many_fragments: CloseCode.MessageTooBig,
  reserved_bits: CloseCode.ProtocolError,
  invalid_opcode: CloseCode.ProtocolError,
  control_too_large: CloseCode.ProtocolError,
  control_fragmented: CloseCode.ProtocolError,
  unexpected_continuation: CloseCode.ProtocolError,
  expected_continuation: CloseCode.ProtocolError,
  unmasked_frame: CloseCode.ProtocolError,
  masked_frame: CloseCode.ProtocolError,
  invalid_length: CloseCode.ProtocolError,
  invalid_close_payload: CloseCode.ProtocolError,
  invalid_close_code: CloseCode.ProtocolError,
  invalid_utf8: CloseCode.InvalidFramePayloadData,
  invalid_compressed_data: CloseCode.InvalidFramePayloadData,
  closed: CloseCode.AbnormalClosure,
  pong_timeout: CloseCode.AbnormalClosure,
  idle_timeout: CloseCode.GoingAway,
  read_timeout: CloseCode.InternalServerError,
  read_aborted: CloseCode.InternalServerError,
  write_timeout: CloseCode.AbnormalClosure,
  write_aborted: CloseCode.AbnormalClosure,
  write_buffer_full: CloseCode.TryAgainLater,
  read_queue_full: CloseCode.PolicyViolation,
  internal_error: CloseCode.InternalServerError,
};

/**
 * A protocol or connection failure, carrying the close code the connection sends
 * (or reports locally, for 1006) because of it.
 *
 * @example Telling why a read failed
 * ```ts
 * import { WebSocketError } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const err = new WebSocketError("invalid_utf8", "Text message is not valid UTF-8");
 * assertEquals(err.closeCode, 1007);
 * assertEquals(err.code, "invalid_utf8");
 * ```
 */
export class WebSocketError extends Error {
  /** The stable reason for the failure. */
  readonly code: ErrorCode;
  /** The close code sent to the peer, or 1006 when the connection is gone. */
  readonly closeCode: CloseCode;

  /**
   * Makes an error for a reason, with a message for people.
   *
   * @param code The stable reason.
   * @param message What happened, in sentence case.
   * @param options The underlying cause, if any.
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebSocketError";
    this.code = code;
    this.closeCode = CLOSE_CODE_OF[code];
  }
}

/**
 * The connection was closed by a close frame: the peer's, or ours answered by the peer.
 *
 * Reads reject with it once the closing handshake is under way; `code` and `reason`
 * are what the peer sent (1005 and `""` when its close frame was empty).
 *
 * @example
 * ```ts
 * import { CloseError } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const err = new CloseError(1001, "bye");
 * assertEquals(err.code, 1001);
 * assertEquals(err.reason, "bye");
 * ```
 */
export class CloseError extends Error {
  /** The close code the peer sent, or 1005 when it sent none. */
  readonly code: CloseCode;
  /** The close reason the peer sent. */
  readonly reason: string;

  /**
   * Makes an error for a received close frame.
   *
   * @param code The peer's close code.
   * @param reason The peer's close reason.
   */
  constructor(code: CloseCode, reason: string) {
    super(`Connection closed with code ${code}${reason ? `: ${reason}` : ""}`);
    this.name = "CloseError";
    this.code = code;
    this.reason = reason;
  }
}

/**
 * What a {@linkcode HandshakeError} carries besides its status: the cause, and
 * the server's header fields and body when a client was refused.
 *
 * @example
 * ```ts
 * import type { HandshakeErrorOptions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: HandshakeErrorOptions = { headers: { "www-authenticate": "Bearer" } };
 * assertEquals(new Headers(options.headers).get("www-authenticate"), "Bearer");
 * ```
 */
export interface HandshakeErrorOptions extends ErrorOptions {
  /** The response's header fields. */
  headers?: HeadersInit;
  /** The start of the response's body (`dial` keeps at most 4 KiB). */
  body?: Uint8Array;
}

const NO_BODY = new Uint8Array(0);

/**
 * An opening handshake that failed: the request or response was refused or invalid.
 *
 * On the server, `status` is the HTTP status sent back; on the client, the status
 * the server answered with (0 when no valid response arrived), with the answer's
 * header fields and the first 4 KiB of its body when it was not a 101.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const err = new HandshakeError(401, "Server answered 401 Unauthorized instead of 101", {
 *   headers: { "www-authenticate": "Bearer" },
 *   body: new TextEncoder().encode("token expired"),
 * });
 * assertEquals(err.status, 401);
 * assertEquals(err.headers.get("www-authenticate"), "Bearer");
 * assertEquals(new TextDecoder().decode(err.body), "token expired");
 * ```
 */
export class HandshakeError extends Error {
  /** The HTTP status of the refusal. */
  readonly status: number;
  /** The response's header fields (empty when there was no response). */
  readonly headers: Headers;
  /** The start of the response's body: at most 4 KiB from `dial`, else empty. */
  readonly body: Uint8Array;

  /**
   * Makes an error for a failed handshake.
   *
   * @param status The HTTP status sent or received.
   * @param message What was wrong, in sentence case.
   * @param options The underlying cause, the response's fields and body.
   */
  constructor(
    status: number,
    message: string,
    options?: HandshakeErrorOptions,
  ) {
    super(message, options);
    this.name = "HandshakeError";
    this.status = status;
    this.headers = new Headers(options?.headers);
    this.body = options?.body ?? NO_BODY;
  }
}
