/**
 * What a conformance case is: the frames it sends (a `run` function over a
 * {@linkcode Peer}) and the outcome RFC 6455 / RFC 7692 expects.
 *
 * @module
 */

import type { DeflateWish } from "./_deflate.ts";
import type { FrameSpec, Peer, Role } from "./_peer.ts";
import { enc } from "../_wire.ts";

/** The areas the field's standard suite covers, in report order. */
export const AREAS = [
  "framing",
  "ping/pong",
  "reserved bits",
  "opcodes",
  "fragmentation",
  "utf-8",
  "close",
  "large messages",
  "many small frames",
  "compression",
] as const;

/** One of {@linkcode AREAS}. */
export type Area = typeof AREAS[number];

/** The judgement of one case. */
export type Verdict =
  | "OK"
  | "NON-STRICT"
  | "FAILED"
  | "INFORMATIONAL"
  | "SKIPPED";

/** Something the testee is expected to send back. */
export type Expected =
  | { kind: "message"; opcode: number; data: Uint8Array }
  | { kind: "pong"; data: Uint8Array };

/** The outcome a case expects. */
export type Expectation =
  /** Exactly these events, then a clean close answering the harness's close. */
  | {
    kind: "echo";
    events: Expected[];
    closeCodes?: number[];
    nonStrictEvents?: Expected[][];
  }
  /**
   * The testee closes with one of `codes` after exactly the `before` events. A TCP
   * drop without a close frame is NON-STRICT (RFC 6455 §7.1.7 says SHOULD send one)
   * unless `dropOk`. With `failFast`, a close that only came after the harness had
   * to complete the message (flag `"late"`) is NON-STRICT.
   */
  | {
    kind: "close";
    codes: number[];
    before?: Expected[];
    dropOk?: boolean;
    failFast?: boolean;
  }
  /** Anything goes (but protocol violations); the outcome is reported. */
  | { kind: "info"; events?: Expected[] };

/** How a compression case sets up permessage-deflate. */
export interface DeflateSetup {
  /** What the harness offers when it tests a server. */
  offer?: string;
  /** What the harness asks for in its answer when it tests a client. */
  wish?: DeflateWish;
  /** When testing a client: answer with exactly this header, whatever was offered. */
  rawAnswer?: string;
  /**
   * `"yes"`: skipped when not negotiated; `"optional"`: the testee may decline
   * (the case then runs uncompressed); `"decline"`: the testee must decline.
   */
  require: "yes" | "optional" | "decline";
}

/** One conformance case. */
export interface Case {
  /** A stable id such as `"2.5"`. */
  id: string;
  area: Area;
  /** What is sent, in a sentence. */
  title: string;
  /** The expected outcome; a function when it depends on what was negotiated. */
  expect: Expectation | ((peer: Peer) => Expectation);
  /** The testee roles the case applies to; both by default. */
  testee?: Role[];
  /** Compression set-up, for compression cases. */
  deflate?: DeflateSetup;
  /** How long to wait for the expected events or close; scaled for large messages. */
  waitMs?: number;
  /** Frames sent in the same TCP write as the upgrade request (or the 101 answer). */
  early?: FrameSpec[];
  /** Sends the case's frames. */
  run(peer: Peer): Promise<void>;
}

/** What one case produced. */
export interface CaseResult {
  id: string;
  area: Area;
  title: string;
  verdict: Verdict;
  expectation: string;
  outcome: string;
  /** Why the verdict is not OK, when it is not. */
  reason: string;
  durationMs: number;
}

/** Expected text message. */
export function textEvent(data: Uint8Array | string): Expected {
  return {
    kind: "message",
    opcode: 0x1,
    data: typeof data === "string" ? enc(data) : data,
  };
}

/** Expected binary message. */
export function binaryEvent(data: Uint8Array): Expected {
  return { kind: "message", opcode: 0x2, data };
}

/** Expected pong. */
export function pongEvent(
  data: Uint8Array | string = new Uint8Array(0),
): Expected {
  return {
    kind: "pong",
    data: typeof data === "string" ? enc(data) : data,
  };
}

/** The cases that apply when the testee plays `testee`. */
export function casesFor(cases: Case[], testee: Role): Case[] {
  return cases.filter((c) => !c.testee || c.testee.includes(testee));
}
