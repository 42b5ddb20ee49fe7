/**
 * Frame opcodes (RFC 6455 §5.2) and predicates over them.
 *
 * @module
 */

/**
 * The opcodes defined by RFC 6455 §5.2, by name.
 *
 * @example Checking a frame's kind
 * ```ts
 * import { OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(OpCode.Text, 1);
 * assertEquals(OpCode.Ping, 9);
 * ```
 */
export const OpCode = {
  /** Continues a fragmented message. */
  Continuation: 0x0,
  /** Starts a UTF-8 text message. */
  Text: 0x1,
  /** Starts a binary message. */
  Binary: 0x2,
  /** Starts or answers the closing handshake. */
  Close: 0x8,
  /** Asks the peer for a pong. */
  Ping: 0x9,
  /** Answers a ping, or serves as a unidirectional heartbeat. */
  Pong: 0xa,
} as const;

/**
 * One of the opcodes defined by RFC 6455.
 *
 * @example A message handler switching on the opcode
 * ```ts
 * import { OpCode, type OpCode as Op } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const kind = (op: Op) => op === OpCode.Text ? "text" : "other";
 * assertEquals(kind(OpCode.Text), "text");
 * ```
 */
export type OpCode = typeof OpCode[keyof typeof OpCode];

/**
 * A data opcode that can start a message.
 *
 * @example
 * ```ts
 * import { OpCode, type DataOpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const op: DataOpCode = OpCode.Binary;
 * assertEquals(op, 2);
 * ```
 */
export type DataOpCode = typeof OpCode.Text | typeof OpCode.Binary;

/**
 * Tells whether an opcode is a control opcode (close, ping, pong or reserved 0xB-0xF).
 *
 * @param opcode The 4-bit opcode of a frame.
 * @returns `true` when the high bit of the opcode is set.
 *
 * @example
 * ```ts
 * import { OpCode } from "@wsx/websocket";
 * import { isControl } from "./opcode.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isControl(OpCode.Ping));
 * assert(!isControl(OpCode.Text));
 * ```
 */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Tells whether RFC 6455 defines an opcode (0-2 and 8-10); all others are reserved.
 *
 * @param opcode The 4-bit opcode of a frame.
 * @returns `true` for a defined opcode.
 *
 * @example
 * ```ts
 * import { isKnownOpCode } from "./opcode.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isKnownOpCode(0x2));
 * assert(!isKnownOpCode(0x3));
 * ```
 */
export function isKnownOpCode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
