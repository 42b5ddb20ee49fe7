/**
 * Turns what a case observed into a verdict, as a pure function so the rules can
 * be tested without sockets.
 *
 * @module
 */

import type { Expectation, Expected, Verdict } from "./_case.ts";
import type { PeerEvent, ReceivedClose, Role } from "./_peer.ts";
import { CLOSE_CODES, dec, sameBytes } from "../_wire.ts";

/** Everything a case saw, as plain data. */
export interface Observation {
  /** The harness's role. */
  role: Role;
  events: PeerEvent[];
  violations: string[];
  notes: string[];
  flags: Set<string>;
  closeReceived?: ReceivedClose;
  closeSent?: { code?: number; atMs: number };
  eofAtMs?: number;
  writeError?: string;
  pingsReceived: number;
}

/** A verdict and, unless OK, why. */
export interface Judgement {
  verdict: Verdict;
  reason: string;
}

/** Judges an observation against an expectation. */
export function judge(expect: Expectation, obs: Observation): Judgement {
  if (obs.violations.length > 0) {
    return {
      verdict: "FAILED",
      reason: `protocol violation: ${obs.violations.join("; ")}`,
    };
  }
  if (expect.kind === "info") return { verdict: "INFORMATIONAL", reason: "" };
  if (expect.kind === "echo") return judgeEcho(expect, obs);
  return judgeClose(expect, obs);
}

function judgeEcho(
  expect: Extract<Expectation, { kind: "echo" }>,
  obs: Observation,
): Judgement {
  let verdict: Verdict = "OK";
  const reasons: string[] = [];
  if (!sameEvents(obs.events, expect.events)) {
    const loose = expect.nonStrictEvents?.some((alt) =>
      sameEvents(obs.events, alt)
    );
    if (!loose) {
      return {
        verdict: "FAILED",
        reason: `expected ${describeExpected(expect.events)}, got ${
          describeEvents(obs.events)
        }`,
      };
    }
    verdict = "NON-STRICT";
    reasons.push(`got ${describeEvents(obs.events)} (allowed, not preferred)`);
  }
  const close = obs.closeReceived;
  if (!close) {
    return {
      verdict: "FAILED",
      reason: obs.eofAtMs !== undefined
        ? "TCP connection dropped instead of a close handshake"
        : "no close frame in answer to the harness's close",
    };
  }
  if (!obs.closeSent || close.atMs < obs.closeSent.atMs) {
    return {
      verdict: "FAILED",
      reason: `testee closed first with ${close.code ?? "no code"}`,
    };
  }
  const codes = expect.closeCodes ?? [CLOSE_CODES.NormalClosure];
  if (close.code === undefined) {
    verdict = "NON-STRICT";
    reasons.push("close answered without a status code");
  } else if (!codes.includes(close.code)) {
    return {
      verdict: "FAILED",
      reason: `close answered with ${close.code}, expected ${codes.join("/")}`,
    };
  }
  const tcp = tcpJudgement(obs);
  if (tcp) return tcp;
  return { verdict, reason: reasons.join("; ") };
}

function judgeClose(
  expect: Extract<Expectation, { kind: "close" }>,
  obs: Observation,
): Judgement {
  const before = expect.before ?? [];
  if (!sameEvents(obs.events, before)) {
    return {
      verdict: "FAILED",
      reason: `expected ${describeExpected(before)} before the close, got ${
        describeEvents(obs.events)
      }`,
    };
  }
  const close = obs.closeReceived;
  if (!close) {
    if (obs.eofAtMs === undefined) {
      return {
        verdict: "FAILED",
        reason: `neither close ${expect.codes.join("/")} nor a TCP drop`,
      };
    }
    if (expect.dropOk) return { verdict: "OK", reason: "" };
    return {
      verdict: "NON-STRICT",
      reason:
        "TCP dropped without a close frame (RFC 6455 §7.1.7: SHOULD send one)",
    };
  }
  if (!expect.codes.includes(close.code ?? CLOSE_CODES.NoStatusReceived)) {
    return {
      verdict: "FAILED",
      reason: `closed with ${close.code ?? "no code"}, expected ${
        expect.codes.join("/")
      }`,
    };
  }
  const tcp = tcpJudgement(obs);
  if (tcp) return tcp;
  if (expect.failFast && obs.flags.has("late")) {
    return {
      verdict: "NON-STRICT",
      reason:
        "failed only after the message was complete, not at the first invalid byte",
    };
  }
  return { verdict: "OK", reason: "" };
}

/** A server must end TCP after the close handshake (RFC 6455 §7.1.1). */
function tcpJudgement(obs: Observation): Judgement | undefined {
  if (obs.role === "client" && obs.eofAtMs === undefined) {
    return {
      verdict: "FAILED",
      reason: "server kept the TCP connection open after the close handshake",
    };
  }
  return undefined;
}

function sameEvents(got: PeerEvent[], want: Expected[]): boolean {
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.kind !== w.kind) return false;
    if (g.kind === "message" && w.kind === "message" && g.opcode !== w.opcode) {
      return false;
    }
    if (!sameBytes(g.data, w.data)) return false;
  }
  return true;
}

function preview(data: Uint8Array, opcode?: number): string {
  if (data.length === 0) return "";
  const head = data.subarray(0, 16);
  const printable = head.every((b) => b >= 0x20 && b < 0x7f);
  const text = opcode === 0x1 || printable
    ? [...dec(head)].map((ch) =>
      ch < " " || ch === "|" || ch === "`" ? "." : ch
    ).join("")
    : [...head].map((b) => b.toString(16).padStart(2, "0")).join("");
  return ` "${text}${data.length > 16 ? "…" : ""}"`;
}

function kindName(opcode: number): string {
  return opcode === 0x1
    ? "text"
    : opcode === 0x2
    ? "binary"
    : `opcode ${opcode}`;
}

function describeOne(
  kind: string,
  opcode: number | undefined,
  data: Uint8Array,
): string {
  const name = kind === "pong" ? "pong" : kindName(opcode ?? 0);
  return `${name} ${data.length} B${preview(data, opcode)}`;
}

/** Summarises a list of events, collapsing runs of similar ones. */
function summarise(
  items: { kind: string; opcode?: number; data: Uint8Array }[],
): string {
  if (items.length === 0) return "nothing";
  if (items.length <= 4) {
    return items.map((e) => describeOne(e.kind, e.opcode, e.data)).join(", ");
  }
  const first = items[0];
  return `${items.length} events (${
    describeOne(first.kind, first.opcode, first.data)
  }, …, ${
    describeOne(items.at(-1)!.kind, items.at(-1)!.opcode, items.at(-1)!.data)
  })`;
}

/** Describes what was received. */
export function describeEvents(events: PeerEvent[]): string {
  return summarise(
    events.map((e) => ({
      ...e,
      opcode: e.kind === "message" ? e.opcode : undefined,
    })),
  );
}

/** Describes what is expected to be received. */
export function describeExpected(events: Expected[]): string {
  return summarise(
    events.map((e) => ({
      ...e,
      opcode: e.kind === "message" ? e.opcode : undefined,
    })),
  );
}

/** The expectation column of the report. */
export function describeExpectation(e: Expectation): string {
  if (e.kind === "info") return "informational";
  if (e.kind === "echo") {
    const codes = (e.closeCodes ?? [CLOSE_CODES.NormalClosure]).join("/");
    return `echo ${describeExpected(e.events)}; clean close ${codes}`;
  }
  const before = e.before?.length ? `${describeExpected(e.before)}, then ` : "";
  const drop = e.dropOk ? " or TCP drop" : "";
  return `${before}close ${e.codes.join("/")}${drop}${
    e.failFast ? " at the first invalid byte" : ""
  }`;
}

/** The outcome column of the report. */
export function describeObservation(obs: Observation): string {
  const parts = [`got ${describeEvents(obs.events)}`];
  if (obs.pingsReceived) parts.push(`${obs.pingsReceived} ping(s) from testee`);
  const c = obs.closeReceived;
  if (c) {
    const reason = c.reason
      ? ` "${c.reason.slice(0, 40).replace(/[|`]/g, ".")}"`
      : "";
    parts.push(`close ${c.code ?? "(no code)"}${reason} at ${c.atMs} ms`);
  } else parts.push("no close frame");
  if (obs.eofAtMs !== undefined) {
    parts.push(`TCP closed by testee at ${obs.eofAtMs} ms`);
  }
  if (obs.flags.has("late")) {
    parts.push("not closed before the rest of the message");
  }
  if (obs.writeError) parts.push(`write failed: ${obs.writeError}`);
  parts.push(...obs.notes);
  return parts.join("; ");
}
