/**
 * The harness as a client: connects to a WebSocket echo server once per case and
 * runs the case over a raw TCP connection.
 *
 * @module
 */

import type { Case, CaseResult } from "./_case.ts";
import { casesFor } from "./_case.ts";
import { checkResponse, type DeflateParams } from "./_deflate.ts";
import { executeCase, result, type SuiteSettings } from "./_execute.ts";
import { clientHandshake } from "./_handshake.ts";
import { closeHttp2, connectHttp2 } from "./_h2.ts";
import { joinFrames, Peer } from "./_peer.ts";

/** The offer made by compression cases that do not set their own. */
export const DEFAULT_OFFER = "permessage-deflate; client_max_window_bits";

async function connect(
  url: URL,
  offer: string | undefined,
  s: SuiteSettings,
  early?: Uint8Array,
) {
  if (s.http2) return await connectHttp2(url, offer, s.handshakeMs, early);
  const conn = await Deno.connect({
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 80),
  });
  conn.setNoDelay(true);
  try {
    const hs = await clientHandshake(conn, url, offer, s.handshakeMs, early);
    return { conn, hs };
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** Whether the server accepts the default permessage-deflate offer at all. */
async function probeDeflate(
  url: URL,
  s: SuiteSettings,
): Promise<string | undefined> {
  try {
    const { conn, hs } = await connect(url, DEFAULT_OFFER, s);
    conn.close();
    const { params, error } = checkResponse(DEFAULT_OFFER, hs.extensions);
    if (error) return undefined;
    return params
      ? undefined
      : "the server does not negotiate permessage-deflate";
  } catch (e) {
    return `probe failed: ${e instanceof Error ? e.message : e}`;
  }
}

/** Runs every case that applies to a server against the echo server at `url`. */
export async function testServer(
  url: URL,
  cases: Case[],
  settings: SuiteSettings,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  try {
    const noDeflate = await probeDeflate(url, settings);
    for (const c of casesFor(cases, "server")) {
      const r = await runOne(url, c, settings, noDeflate);
      settings.onResult?.(r);
      results.push(r);
    }
  } finally {
    if (settings.http2) await closeHttp2();
  }
  return results;
}

async function runOne(
  url: URL,
  c: Case,
  s: SuiteSettings,
  noDeflate: string | undefined,
): Promise<CaseResult> {
  const t0 = performance.now();
  if (c.deflate && noDeflate) {
    return result(c, "SKIPPED", "-", "-", noDeflate, t0);
  }
  const offer = c.deflate ? c.deflate.offer ?? DEFAULT_OFFER : undefined;
  let conn: Deno.Conn;
  let rest: Uint8Array;
  let params: DeflateParams | undefined;
  let answer: string | null = null;
  try {
    const early = joinFrames(c.early ?? [], true);
    const { conn: opened, hs } = await connect(url, offer, s, early);
    conn = opened;
    rest = hs.rest;
    answer = hs.extensions;
    const checked = checkResponse(offer, hs.extensions);
    if (checked.error || (checked.params && c.deflate?.require === "decline")) {
      conn.close();
      const why = checked.error ??
        `accepted an offer it must decline: ${hs.extensions}`;
      return result(
        c,
        "FAILED",
        `handshake for offer: ${offer}`,
        hs.extensions ?? "-",
        why,
        t0,
      );
    }
    params = checked.params;
    if (!params && c.deflate?.require === "yes") {
      conn.close();
      const why = `the server declined the offer: ${offer}`;
      return result(c, "SKIPPED", "-", "no Sec-WebSocket-Extensions", why, t0);
    }
  } catch (e) {
    const why = `handshake failed: ${e instanceof Error ? e.message : e}`;
    if (c.deflate?.require === "decline" && why.includes("upgrade refused")) {
      const reason =
        `${why}: refused the upgrade instead of declining the offer (RFC 7692 §5)`;
      return result(
        c,
        "NON-STRICT",
        "upgrade without the extension",
        "-",
        reason,
        t0,
      );
    }
    return result(c, "FAILED", "a successful upgrade", "-", why, t0);
  }
  const peer = new Peer(conn, rest, {
    role: "client",
    deflate: params,
    maxMessage: s.maxMessage,
    writeTimeoutMs: s.writeTimeoutMs,
  });
  for (const f of c.early ?? []) peer.noteSent(f);
  if (c.deflate) peer.notes.push(`answer: ${answer ?? "no extension"}`);
  return await executeCase(c, peer, s);
}
