/**
 * Judges one run of the interop scenario from both sides' reports: every check
 * each side made, the close code and reason each side saw, the subprotocol, the
 * negotiated extension, and the pong to our ping.
 *
 * @module
 */

import type { WireCount } from "./_proxy.ts";
import {
  CHECK_NAMES,
  CLIENT_CLOSE,
  CLOSE_PATH,
  ECHO_PATH,
  PAYLOAD_BYTES,
  PROTOCOL,
  QUIET_PATH,
  SERVER_CLOSE,
} from "./page/messages.js";
import type { ClientReport, CloseSeen, ServerReport } from "./page/scenario.js";
import type { Check } from "./page/messages.js";

/** What a run must show besides the exchange itself. */
export interface Expectations {
  /** Whether permessage-deflate must be negotiated (otherwise no extension may be). */
  deflate: boolean;
  /** The side (ours) that pinged the other on the echo connection and must have seen the pong. */
  pong?: "client" | "server";
}

/**
 * Lists everything wrong in one run; an empty list means it passed.
 *
 * @param client The client's report.
 * @param servers The server's reports, one per connection.
 * @param expect What the run must show.
 */
export function judge(
  client: ClientReport,
  servers: ServerReport[],
  expect: Expectations,
): string[] {
  const problems = client.errors.map((e) => `client: ${e}`);
  for (const s of servers) {
    problems.push(...s.errors.map((e) => `server ${s.path}: ${e}`));
  }
  checkAll(problems, "client: echo of", client.echoes);
  const echo = servers.find((s) => s.path === ECHO_PATH);
  const closing = servers.find((s) => s.path === CLOSE_PATH);
  if (!echo) {
    problems.push("server: no echo connection");
  } else {
    checkAll(problems, "server: received", echo.received);
    checkClose(
      problems,
      "server saw client's close",
      echo.close,
      CLIENT_CLOSE,
      true,
    );
    checkExtensions(problems, "server", echo.extensions, expect.deflate);
    if (!sameExtensions(echo.extensions, client.extensions)) {
      problems.push(
        `extensions differ: server "${echo.extensions}", client "${client.extensions}"`,
      );
    }
    checkProtocol(problems, "server", echo.protocol);
  }
  checkClose(
    problems,
    "client saw close echo",
    client.close,
    CLIENT_CLOSE,
    false,
  );
  checkExtensions(problems, "client", client.extensions, expect.deflate);
  checkProtocol(problems, "client", client.protocol);
  if (expect.pong) {
    const pong = expect.pong === "client" ? client.pong : echo?.pong;
    if (!pong) problems.push(`${expect.pong}: no pong to its ping`);
    else if (!pong.ok) problems.push(`${expect.pong}: pong: ${pong.detail}`);
  }
  if (!client.goodbye) problems.push("client: no goodbye message");
  else if (!client.goodbye.ok) {
    problems.push(`client: goodbye: ${client.goodbye.detail}`);
  }
  checkClose(
    problems,
    "client saw server's close",
    client.serverClose,
    SERVER_CLOSE,
    true,
  );
  if (!closing) problems.push("server: no server-close connection");
  else {checkClose(
      problems,
      "server saw close echo",
      closing.close,
      SERVER_CLOSE,
      false,
    );}
  checkQuietClose(problems, client, servers.find((s) => s.path === QUIET_PATH));
  return problems;
}

/**
 * The close without arguments: a WHATWG client sends no status (1005), ours
 * sends 1000. Either way the server must see what was sent, with no reason,
 * and the client must see the same code echoed.
 */
function checkQuietClose(
  problems: string[],
  client: ClientReport,
  server: ServerReport | undefined,
): void {
  const seen = client.quietClose;
  if (!server) {
    problems.push("server: no quiet-close connection");
    return;
  }
  if (!server.close) problems.push("server saw quiet close: none");
  if (!seen) problems.push("client saw quiet close echo: none");
  if (!server.close || !seen) return;
  if (![1000, 1005].includes(server.close.code) || server.close.reason !== "") {
    problems.push(
      `server saw quiet close: code ${server.close.code} "${server.close.reason}", expected 1005 or 1000 without a reason`,
    );
  }
  if (seen.code !== server.close.code) {
    problems.push(
      `client saw quiet close echo: code ${seen.code}, expected ${server.close.code}`,
    );
  }
  if (seen.wasClean === false) {
    problems.push("client saw quiet close echo: not clean");
  }
}

function checkAll(problems: string[], what: string, checks: Check[]): void {
  for (const name of CHECK_NAMES) {
    const check = checks.find((c) => c.name === name);
    if (!check) problems.push(`${what} ${name}: missing`);
    else if (!check.ok) problems.push(`${what} ${name}: ${check.detail}`);
  }
}

/**
 * Checks a close one side saw. The side that answered a close need only repeat
 * the code (RFC 6455 §5.5.1), so the reason is checked only for the close that
 * was started.
 */
function checkClose(
  problems: string[],
  what: string,
  seen: CloseSeen | null,
  want: { code: number; reason: string },
  withReason: boolean,
): void {
  if (!seen) {
    problems.push(`${what}: none`);
    return;
  }
  if (seen.code !== want.code) {
    problems.push(`${what}: code ${seen.code}, expected ${want.code}`);
  }
  if (withReason && seen.reason !== want.reason) {
    problems.push(
      `${what}: reason "${seen.reason}", expected "${want.reason}"`,
    );
  }
  if (seen.wasClean === false) problems.push(`${what}: not clean`);
}

function checkExtensions(
  problems: string[],
  side: string,
  extensions: string,
  deflate: boolean,
): void {
  const has = /^permessage-deflate\b/.test(extensions);
  if (deflate && !has) {
    problems.push(
      `${side}: permessage-deflate not negotiated ("${extensions}")`,
    );
  }
  if (!deflate && extensions !== "") {
    problems.push(`${side}: unexpected extensions "${extensions}"`);
  }
}

function checkProtocol(
  problems: string[],
  side: string,
  protocol: string,
): void {
  if (protocol !== PROTOCOL) {
    problems.push(`${side}: subprotocol "${protocol}", expected "${PROTOCOL}"`);
  }
}

/**
 * Whether two sides report the same agreement. `ws` reports only the names of
 * its extensions, so parameters are compared only when both sides list them.
 */
export function sameExtensions(a: string, b: string): boolean {
  const parse = (value: string) =>
    value.split(",").filter((e) => e.trim() !== "").map((e) =>
      e.split(";").map((p) => p.trim().replace(/\s*=\s*/, "=")).filter((p) =>
        p !== ""
      )
    );
  const x = parse(a);
  const y = parse(b);
  if (x.length !== y.length) return false;
  return x.every((ext, i) => {
    const other = y[i];
    if (ext[0] !== other[0]) return false;
    if (ext.length === 1 || other.length === 1) return true;
    return ext.slice(1).sort().join(";") === other.slice(1).sort().join(";");
  });
}

/**
 * The most wire bytes, as a share of the payload, that a compressed direction
 * may carry: the scenario's payloads are mostly compressible (random bytes are
 * about 6% of them).
 */
export const COMPRESSED_SHARE = 0.5;

/**
 * Checks the bytes a proxy counted against what the run negotiated: with
 * permessage-deflate each direction must carry at most half the payload's
 * bytes, without it at least all of them.
 *
 * @param count Bytes relayed in each direction.
 * @param compressed Whether permessage-deflate was negotiated.
 */
export function judgeWire(count: WireCount, compressed: boolean): string[] {
  const problems: string[] = [];
  const limit = Math.round(PAYLOAD_BYTES * COMPRESSED_SHARE);
  for (
    const [way, bytes] of [["client → server", count.up], [
      "server → client",
      count.down,
    ]] as const
  ) {
    if (compressed && bytes > limit) {
      problems.push(
        `wire ${way}: ${bytes} bytes for ${PAYLOAD_BYTES} bytes of payload (not compressed)`,
      );
    }
    if (!compressed && bytes < PAYLOAD_BYTES) {
      problems.push(
        `wire ${way}: ${bytes} bytes, less than the ${PAYLOAD_BYTES} bytes of payload`,
      );
    }
  }
  return problems;
}
