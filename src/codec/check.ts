/**
 * The frame rules of RFC 6455 §5.2-5.5 as one pure function: masking, opcodes,
 * control frames, fragmentation, RSV bits and size limits.
 *
 * @module
 */

import type { ErrorCode } from "./errors.ts";
import { type Header, MAX_CONTROL_PAYLOAD } from "./header.ts";
import { isControl, isKnownOpCode, OpCode } from "./opcode.ts";

/** What a connection allows: fixed when it is built. */
export interface FrameLimits {
  /** Whether frames from the peer must be masked (a server's view of a client). */
  readonly expectMasked: boolean;
  /** RSV bits an extension negotiated for a message's first frame. */
  readonly rsvAllowed: number;
  /** The largest message, in bytes. */
  readonly readLimit: number;
  /** The largest frame, in bytes. */
  readonly maxFrameSize: number;
  /** The most fragments one message may have. */
  readonly maxFragments: number;
}

/** Where the peer's frame sequence is: updated by every accepted data frame. */
export interface FrameState {
  /** A fragmented message is open: only continuations (and control frames) may follow. */
  inMessage: boolean;
  /** The opcode of the message being read. */
  opcode: number;
  /** The RSV bits of its first frame. */
  rsv: number;
  /** Its length so far, this frame included. */
  length: number;
  /** Its fragments so far. */
  fragments: number;
}

/** A fresh state: no message open. */
export function newFrameState(): FrameState {
  return { inMessage: false, opcode: 0, rsv: 0, length: 0, fragments: 0 };
}

/**
 * Checks a header against the rules and the limits; on success a data frame's
 * place in its message is recorded in `state` (control frames leave it alone).
 *
 * @returns The rule broken, or `null` when the frame may be read.
 */
export function checkHeader(
  h: Header,
  state: FrameState,
  limits: FrameLimits,
): ErrorCode | null {
  if (h.masked !== limits.expectMasked) {
    return limits.expectMasked ? "unmasked_frame" : "masked_frame";
  }
  if (!isKnownOpCode(h.opcode)) return "invalid_opcode";
  if (isControl(h.opcode)) {
    if (h.rsv !== 0) return "reserved_bits";
    if (!h.fin) return "control_fragmented";
    return h.length > MAX_CONTROL_PAYLOAD ? "control_too_large" : null;
  }
  if (h.opcode === OpCode.Continuation) {
    if (!state.inMessage) return "unexpected_continuation";
    if (h.rsv !== 0) return "reserved_bits";
    if (++state.fragments > limits.maxFragments) return "too_many_fragments";
    state.length += h.length;
  } else {
    if (state.inMessage) return "expected_continuation";
    if ((h.rsv & ~limits.rsvAllowed) !== 0) return "reserved_bits";
    state.opcode = h.opcode;
    state.rsv = h.rsv;
    state.fragments = 1;
    state.length = h.length;
  }
  if (state.length > limits.readLimit) return "message_too_big";
  if (h.length > limits.maxFrameSize) return "frame_too_big";
  state.inMessage = !h.fin;
  return null;
}

/** Says in words why {@linkcode checkHeader} refused `h`. */
export function describeFault(
  fault: ErrorCode,
  h: Header,
  limits: FrameLimits,
): string {
  switch (fault) {
    case "unmasked_frame":
      return "Client frame is not masked";
    case "masked_frame":
      return "Server frame is masked";
    case "invalid_opcode":
      return `Reserved opcode ${h.opcode}`;
    case "reserved_bits":
      return isControl(h.opcode)
        ? "Control frame has RSV bits set"
        : h.opcode === OpCode.Continuation
        ? "Continuation frame has RSV bits set"
        : "Frame has unnegotiated RSV bits set";
    case "control_fragmented":
      return "Control frame is fragmented";
    case "control_too_large":
      return `Control frame payload is ${h.length} bytes (at most 125)`;
    case "unexpected_continuation":
      return "Continuation frame without a message to continue";
    case "expected_continuation":
      return "New message started inside a fragmented message";
    case "too_many_fragments":
      return `Message has more than ${limits.maxFragments} fragments`;
    case "message_too_big":
      return `Message exceeds the ${limits.readLimit}-byte read limit`;
    case "frame_too_big":
      return `Frame exceeds the ${limits.maxFrameSize}-byte frame limit`;
    default:
      return `Frame refused: ${fault}`;
  }
}
