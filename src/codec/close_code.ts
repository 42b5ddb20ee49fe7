/**
 * Close status codes (RFC 6455 §7.4 and the IANA registry).
 *
 * @module
 */

/**
 * The close status codes of RFC 6455 §7.4.1 and the IANA registry, by name.
 *
 * @example Closing after a policy violation
 * ```ts
 * import { CloseCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(CloseCode.PolicyViolation, 1008);
 * ```
 */
export const CloseCode = {
  /** The purpose of the connection has been fulfilled. */
  NormalClosure: 1000,
  /** The endpoint is going away: server shutdown or page navigation. */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The endpoint cannot accept this kind of data. */
  UnsupportedData: 1003,
  /** Reserved; never sent. */
  Reserved: 1004,
  /** Reported locally when a close frame carried no code; never sent. */
  NoStatusReceived: 1005,
  /** Reported locally when the connection dropped without a close frame; never sent. */
  AbnormalClosure: 1006,
  /** A message's data did not match its type, such as invalid UTF-8 in a text message. */
  InvalidFramePayloadData: 1007,
  /** A message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** A message was too big to process. */
  MessageTooBig: 1009,
  /** The client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition. */
  InternalServerError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** The service is overloaded; try again later. */
  TryAgainLater: 1013,
  /** A gateway or proxy received an invalid response upstream. */
  BadGateway: 1014,
  /** Reported locally when the TLS handshake failed; never sent. */
  TlsHandshake: 1015,
} as const;

/**
 * A close status code: one of {@linkcode CloseCode} by name, or an application
 * code (3000-4999) as a number. The known codes stay a literal union, so that
 * editors offer them and `Extract<CloseCode, 1001>` is `1001`, not `never`.
 *
 * @example
 * ```ts
 * import { CloseCode, type CloseCode as Code } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const known: Code = CloseCode.GoingAway;
 * const application: Code = 4001;
 * assertEquals([known, application], [1001, 4001]);
 * ```
 */
export type CloseCode =
  | typeof CloseCode[keyof typeof CloseCode]
  | (number & Record<never, never>);

/**
 * Tells whether a close code may appear in a close frame on the wire (RFC 6455 §7.4).
 *
 * Valid: 1000-1003, 1007-1014, and 3000-4999. 1004-1006 and 1015 are reserved for
 * local use, and every other value is undefined: receiving one is a protocol error.
 *
 * @param code The code read from, or about to be written to, a close frame.
 * @returns `true` when the code may be sent and received.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "./close_code.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isValidCloseCode(1000));
 * assert(isValidCloseCode(4001));
 * assert(!isValidCloseCode(1005));
 * assert(!isValidCloseCode(2000));
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}
