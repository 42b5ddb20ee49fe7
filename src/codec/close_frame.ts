/**
 * The close frame's payload (RFC 6455 §5.5.1): a code and a UTF-8 reason, and the
 * one mapping from an error to the close frame that answers it.
 *
 * @module
 */

import { CloseCode, isValidCloseCode } from "./close_code.ts";
import { WebSocketError } from "./errors.ts";
import { isValidUtf8 } from "./utf8.ts";

/** The longest close reason, in UTF-8 bytes, that fits a control frame (125 - 2). */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** Encodes a close payload: the code, big-endian, then the reason as UTF-8. */
export function encodeClosePayload(
  code: CloseCode,
  reason: string,
): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/**
 * Builds a close frame's payload after checking it can be sent: the code
 * big-endian, then the reason as UTF-8. Without a code the payload is empty
 * (a close frame may carry nothing).
 *
 * @example A normal closure with a reason, framed
 * ```ts
 * import { closePayload, encodeFrame, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const payload = closePayload(1000, "bye");
 * assertEquals([...payload], [0x03, 0xe8, 0x62, 0x79, 0x65]);
 * assertEquals(encodeFrame({ opcode: OpCode.Close, payload }).length, 7);
 * ```
 *
 * @param code A code that may appear on the wire (1000-1003, 1007-1014,
 * 3000-4999), or none.
 * @param reason The reason, at most 123 bytes of UTF-8; only with a code.
 * @returns The payload.
 * @throws {RangeError} For a code that may not be sent, a reason without a
 * code, or a reason longer than 123 bytes.
 */
export function closePayload(code?: CloseCode, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new RangeError("A close reason needs a close code");
    }
    return new Uint8Array(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`Close code ${code} may not be sent`);
  }
  const payload = encodeClosePayload(code, reason);
  if (payload.length - 2 > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `Close reason is ${
        payload.length - 2
      } bytes of UTF-8; at most ${MAX_CLOSE_REASON_BYTES} fit`,
    );
  }
  return payload;
}

/** Cuts a reason to at most 123 UTF-8 bytes without splitting a character. */
export function truncateReason(reason: string): string {
  // Each UTF-16 unit takes at most 3 bytes: short strings need no encoding.
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
  const bytes = encoder.encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/**
 * Decodes a received close payload.
 *
 * @returns The code (1005 for an empty payload) and reason.
 * @throws {WebSocketError} For a 1-byte payload, a code that may not be sent, or
 * a reason that is not UTF-8.
 */
export function decodeClosePayload(
  payload: Uint8Array,
): { code: CloseCode; reason: string } {
  if (payload.length === 0) {
    return { code: CloseCode.NoStatusReceived, reason: "" };
  }
  if (payload.length === 1) {
    throw new WebSocketError(
      "invalid_close_payload",
      "Close frame payload is 1 byte",
    );
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new WebSocketError(
      "invalid_close_code",
      `Invalid close code ${code}`,
    );
  }
  if (!isValidUtf8(payload, 2)) {
    throw new WebSocketError("invalid_utf8", "Close reason is not valid UTF-8");
  }
  return { code, reason: decoder.decode(payload.subarray(2)) };
}

/**
 * The close frame that answers a failure: a {@linkcode WebSocketError}'s close
 * code, 1011 for any other error, and the error's message cut to 123 bytes.
 * 1006 (the transport is gone) is never sent: its payload is empty.
 */
export function closeFrameFor(
  error: unknown,
): { code: CloseCode; reason: string; payload: Uint8Array } {
  const code = error instanceof WebSocketError
    ? error.closeCode
    : CloseCode.InternalServerError;
  const reason = truncateReason(
    error instanceof Error ? error.message : String(error),
  );
  if (!isValidCloseCode(code)) return { code, reason, payload: EMPTY };
  return { code, reason, payload: encodeClosePayload(code, reason) };
}
