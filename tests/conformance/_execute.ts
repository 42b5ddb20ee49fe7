/**
 * Runs one case on an established connection: its frames, the wait for the
 * testee's answer, the close handshake, and the verdict.
 *
 * @module
 */

import type { Case, CaseResult, Expectation, Verdict } from "./_case.ts";
import { withTimeout } from "./_handshake.ts";
import type { Peer } from "./_peer.ts";
import {
  describeExpectation,
  describeObservation,
  judge,
  type Observation,
} from "./_verdict.ts";
import { CLOSE_CODES } from "../_wire.ts";

/** Time limits and sizes for a suite run. */
export interface SuiteSettings {
  /** How long to wait for the expected events or close (cases may ask for more). */
  waitMs: number;
  /** How long to wait for the answer to the harness's close frame. */
  closeMs: number;
  /** How long a server may take to end TCP after the close handshake. */
  tcpMs: number;
  /** The longest a case's own actions may take. */
  caseMs: number;
  /** How long the upgrade handshake may take. */
  handshakeMs: number;
  /** How long one write may block. */
  writeTimeoutMs: number;
  /** The largest message accepted from the testee. */
  maxMessage: number;
  /** Called with each result as it is known. */
  onResult?: (r: CaseResult) => void;
  /** Runs server cases on extended CONNECT streams of one h2c session (RFC 8441). */
  http2?: boolean;
}

/** Defaults that keep a healthy run fast and a broken testee bounded. */
export const DEFAULT_SETTINGS: SuiteSettings = {
  waitMs: 5000,
  closeMs: 5000,
  tcpMs: 3000,
  caseMs: 60_000,
  handshakeMs: 5000,
  writeTimeoutMs: 15_000,
  maxMessage: 32 * 1024 * 1024,
};

/** Runs `c` over `peer` (already started) and judges it. */
export async function executeCase(
  c: Case,
  peer: Peer,
  settings: SuiteSettings,
): Promise<CaseResult> {
  const t0 = performance.now();
  peer.start();
  let expect: Expectation = { kind: "info" };
  try {
    const done = await withTimeout(
      c.run(peer).then(() => true),
      settings.caseMs,
    );
    if (done === undefined) {
      peer.notes.push(`case actions still running after ${settings.caseMs} ms`);
    }
    expect = typeof c.expect === "function" ? c.expect(peer) : c.expect;
    await conclude(peer, expect, c.waitMs ?? settings.waitMs, settings);
  } catch (e) {
    peer.notes.push(`harness error: ${e instanceof Error ? e.message : e}`);
    expect = typeof c.expect === "function" ? { kind: "info" } : c.expect;
  } finally {
    await peer.dispose();
  }
  const obs = observe(peer);
  const { verdict, reason } = judge(expect, obs);
  return result(
    c,
    verdict,
    describeExpectation(expect),
    describeObservation(obs),
    reason,
    t0,
  );
}

/** Builds a result row. */
export function result(
  c: Case,
  verdict: Verdict,
  expectation: string,
  outcome: string,
  reason: string,
  t0: number,
): CaseResult {
  return {
    id: c.id,
    area: c.area,
    title: c.title,
    verdict,
    expectation,
    outcome,
    reason,
    durationMs: Math.round(performance.now() - t0),
  };
}

async function conclude(
  peer: Peer,
  expect: Expectation,
  waitMs: number,
  s: SuiteSettings,
): Promise<void> {
  if (expect.kind === "close") {
    // An event beyond the expected ones already decides the case: stop waiting.
    const before = expect.before?.length ?? 0;
    await peer.waitFor(() => peer.ended || peer.events.length > before, waitMs);
  } else await peer.waitEvents(expect.events?.length ?? 0, waitMs);
  await withTimeout(peer.drained(), s.writeTimeoutMs);
  if (!peer.closeSent && peer.eofAtMs === undefined) {
    await peer.close(CLOSE_CODES.NormalClosure);
  }
  await peer.waitFor(
    () =>
      (peer.closeReceived !== undefined && peer.closeSent !== undefined) ||
      peer.eofAtMs !== undefined,
    s.closeMs,
  );
  // A server ends TCP first (RFC 6455 §7.1.1): the harness waits for that as a client,
  // and does it itself as a server.
  if (peer.role === "client") {
    await peer.waitFor(() => peer.eofAtMs !== undefined, s.tcpMs);
  }
}

function observe(peer: Peer): Observation {
  return {
    role: peer.role,
    events: peer.events,
    violations: peer.violations,
    notes: peer.notes,
    flags: peer.flags,
    closeReceived: peer.closeReceived,
    closeSent: peer.closeSent,
    eofAtMs: peer.eofAtMs,
    writeError: peer.writeError,
    pingsReceived: peer.pingsReceived,
  };
}
