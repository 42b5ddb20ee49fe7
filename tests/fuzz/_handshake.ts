/**
 * Fuzz cases for the handshake parser: valid upgrade requests, mutated line by
 * line and byte by byte, fed to `accept()` in memory or over loopback TCP. The
 * reading stage (start line, head size, end of stream, stall) is predicted
 * exactly; the parsing stage must answer with one of its statuses.
 *
 * @module
 */

import {
  accept,
  acceptKey,
  allowOrigins,
  HandshakeError,
  Rejection,
} from "../../mod.ts";
import { concat, enc } from "../_wire.ts";
import { mutateBytes } from "./_frames.ts";
import { MemoryConn, MemoryStreams } from "./_memory.ts";
import { deadline, type Loopback } from "./_run.ts";
import { Rng, splitRandomly } from "./_rng.ts";

/** One generated handshake case. */
export interface HandshakeCase {
  seed: number;
  input: Uint8Array;
  chunks: Uint8Array[];
  transport: "direct" | "byob" | "plain";
  /** Whether the peer stalls after its bytes instead of ending the stream. */
  stall: boolean;
  maxHeadBytes: number;
  maxLineBytes: number;
  maxHeaders: number;
  mutated: boolean;
  /** The key of the unmutated request. */
  key: string;
  checkOrigin: boolean;
}

const TOKEN_CHARS =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~";

function token(rng: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += TOKEN_CHARS[rng.int(TOKEN_CHARS.length)];
  return s;
}

function randomCase(rng: Rng, s: string): string {
  return [...s].map((ch) =>
    rng.chance(0.3) ? ch.toUpperCase() : ch.toLowerCase()
  ).join("");
}

/** Makes the case for a seed. */
export function handshakeCase(seed: number): HandshakeCase {
  const rng = new Rng(seed);
  const key = btoa(String.fromCharCode(...rng.bytes(16)));
  const lines = [
    `GET /${token(rng, rng.int(20))}${
      rng.chance(0.3) ? "?q=" + token(rng, 5) : ""
    } HTTP/1.1`,
    `${randomCase(rng, "Host")}: ${
      rng.pick(["127.0.0.1:8080", "example.com", "[::1]:80"])
    }`,
    `${randomCase(rng, "Upgrade")}: ${rng.pick(["websocket", "WebSocket"])}`,
    `${randomCase(rng, "Connection")}: ${
      rng.pick(["Upgrade", "keep-alive, Upgrade"])
    }`,
    `${randomCase(rng, "Sec-WebSocket-Key")}: ${key}`,
    `${randomCase(rng, "Sec-WebSocket-Version")}: 13`,
  ];
  if (rng.chance(0.3)) {
    lines.push(`Sec-WebSocket-Protocol: chat, ${token(rng, 4)}`);
  }
  if (rng.chance(0.3)) {
    lines.push(
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    );
  }
  if (rng.chance(0.3)) {
    lines.push(`Origin: ${rng.pick(["https://ok.test", "https://evil.test"])}`);
  }
  for (let i = rng.int(4); i > 0; i--) {
    lines.push(`X-${token(rng, 6)}: ${token(rng, rng.int(40))}`);
  }
  const mutated = rng.chance(0.85);
  if (mutated) mutateLines(rng, lines);
  let input: Uint8Array = enc(lines.join("\r\n") + "\r\n\r\n");
  if (mutated && rng.chance(0.5)) {
    input = mutateBytes(rng, input, enc(lines.join("\r\n")));
  }
  if (rng.chance(0.2)) input = concat(input, rng.bytes(rng.int(40))); // frames after the head
  return {
    seed,
    input,
    chunks: splitRandomly(rng, input),
    transport: rng.pick(["direct", "direct", "byob", "plain"] as const),
    stall: rng.chance(0.03),
    maxHeadBytes: rng.pick([512, 8192]),
    maxLineBytes: rng.pick([100, 400]),
    maxHeaders: rng.pick([6, 64]),
    mutated,
    key,
    checkOrigin: rng.chance(0.5),
  };
}

function mutateLines(rng: Rng, lines: string[]): void {
  for (let k = rng.range(1, 3); k > 0; k--) {
    const i = rng.int(lines.length);
    switch (rng.int(12)) {
      case 0:
        lines.splice(1 + rng.int(lines.length - 1), 1); // a required field goes
        break;
      case 1:
        lines[0] = lines[0].replace(
          "GET",
          rng.pick(["POST", "get", "G T", ""]),
        );
        break;
      case 2:
        lines[0] = lines[0].replace(
          "HTTP/1.1",
          rng.pick(["HTTP/1.0", "HTTP/2.0", "HTTP/1", "http/1.1"]),
        );
        break;
      case 3:
        lines.push(
          `Sec-WebSocket-Version: ${rng.pick(["8", "14", "13, 8", ""])}`,
        );
        break;
      case 4:
        lines[i] = lines[i].replace(":", rng.pick(["", " :", "::", ": \x00"]));
        break;
      case 5:
        lines.push(`X-Big: ${"a".repeat(rng.pick([100, 600, 9000]))}`);
        break;
      case 6:
        for (let n = rng.range(5, 80); n > 0; n--) lines.push(`X-${n}: ${n}`);
        break;
      case 7:
        lines[0] = lines[0].replace(
          "/",
          "/" + "p".repeat(rng.pick([90, 500, 5000])),
        );
        break;
      case 8:
        lines.splice(
          i + 1,
          0,
          rng.pick([" folded", "\tobs-fold", "", "no colon"]),
        );
        break;
      case 9:
        lines[i] = lines[i] + rng.pick(["\r", "\n", "\x7f", "\u00e9", " "]);
        break;
      case 10:
        lines.push(
          `Sec-WebSocket-Key: ${
            rng.pick(["", "short", "AAAAAAAAAAAAAAAAAAAAAA=="])
          }`,
        );
        break;
      case 11:
        lines.push(`Host: ${rng.pick(["other", "", "evil.test"])}`);
    }
  }
}

/** What the reading stage must end with, from the bytes alone. */
function readingStage(c: HandshakeCase): number | "parsed" {
  const visible = c.input.subarray(0, c.maxHeadBytes);
  // The head ends at a blank line: LF LF or LF CR LF (CRLFCRLF when well formed).
  const ends = [indexOf(visible, [10, 10]), indexOf(visible, [10, 13, 10])]
    .filter((i) => i >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : -1;
  const head = end < 0 ? visible : visible.subarray(0, end + 1);
  const crlf = indexOf(head, [13, 10]);
  if ((crlf < 0 ? head.length : crlf) > c.maxLineBytes) return 414;
  if (end >= 0) return "parsed";
  if (c.input.length >= c.maxHeadBytes) return 431;
  return c.stall ? 408 : 400;
}

function indexOf(bytes: Uint8Array, pattern: number[]): number {
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) {
      if (bytes[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

const PARSE_STATUSES = [101, 400, 403, 405, 414, 426, 431];
const HANDSHAKE_TIMEOUT = 300;

function options(c: HandshakeCase) {
  return {
    handshakeTimeout: HANDSHAKE_TIMEOUT,
    maxHeadBytes: c.maxHeadBytes,
    maxLineBytes: c.maxLineBytes,
    maxHeaders: c.maxHeaders,
    onHost: (host: string) =>
      host === "evil.test" ? new Rejection(403) : undefined,
    onRequest: c.checkOrigin ? allowOrigins(["https://ok.test"]) : undefined,
  };
}

/** What a handshake run produced. */
export interface HandshakeOutcome {
  status: number;
  error: unknown;
  written: Uint8Array;
  closed: boolean;
  elapsed: number;
}

/** Runs a case over an in-memory transport. */
export async function runHandshakeInMemory(
  c: HandshakeCase,
): Promise<HandshakeOutcome> {
  const t = c.transport === "direct"
    ? new MemoryConn(c.chunks, [], c.stall)
    : new MemoryStreams(c.chunks, c.transport === "byob", c.stall);
  const { status, error, elapsed } = await acceptCase(t, c, "handshake");
  return { status, error, written: t.written(), closed: t.closed, elapsed };
}

/**
 * Runs `accept` on a case within a deadline: the status it ended with (101, the
 * refusal's HTTP status, or -1 for another error), the error and the time taken.
 */
async function acceptCase(
  transport: Parameters<typeof accept>[0],
  c: HandshakeCase,
  label: string,
): Promise<{ status: number; error: unknown; elapsed: number }> {
  const start = performance.now();
  const result = await deadline(
    accept(transport, options(c)).then(
      (conn) => ({ conn, error: null }),
      (error) => ({ conn: null, error }),
    ),
    5000,
    `${label} seed ${c.seed}`,
  );
  const elapsed = performance.now() - start;
  result.conn?.abort();
  const status = result.conn
    ? 101
    : result.error instanceof HandshakeError
    ? result.error.status
    : -1;
  return { status, error: result.error, elapsed };
}

/** Runs a case over loopback TCP: the harness writes the chunks, then reads the answer. */
export async function runHandshakeOverTcp(
  c: HandshakeCase,
  loop: Loopback,
): Promise<HandshakeOutcome> {
  const { ours, peer } = await loop.pair();
  const feed = (async () => {
    try {
      for (const chunk of c.chunks) {
        if (chunk.length > 0) await peer.write(chunk);
      }
      if (!c.stall) await peer.closeWrite();
    } catch {
      // The server answered and closed first.
    }
  })();
  const answer = (async () => {
    const parts: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await peer.read(buf).catch(() => null);
      if (n === null) return { bytes: concat(...parts), ended: true };
      parts.push(buf.slice(0, n));
    }
  })();
  try {
    const { status, error, elapsed } = await acceptCase(
      ours,
      c,
      "tcp handshake",
    );
    const got = await deadline(answer, 5000, `tcp answer, seed ${c.seed}`);
    return { status, error, written: got.bytes, closed: got.ended, elapsed };
  } finally {
    await feed;
    peer.close();
  }
}

const latin1 = new TextDecoder("latin1");

/**
 * Checks a handshake outcome; throws an error naming what is wrong.
 *
 * @returns The status, as a string.
 */
export async function checkHandshake(
  c: HandshakeCase,
  o: HandshakeOutcome,
): Promise<string> {
  if (o.status === -1) {
    throw new Error(`unexpected error: ${o.error}`, { cause: o.error });
  }
  if (!o.closed && o.status !== 101) {
    throw new Error("the socket was left open");
  }
  const answer = latin1.decode(o.written);
  if (!answer.startsWith(`HTTP/1.1 ${o.status} `)) {
    throw new Error(
      `status ${o.status} but answered ${JSON.stringify(answer.slice(0, 40))}`,
    );
  }
  const stage = readingStage(c);
  if (stage !== "parsed") {
    if (o.status !== stage) {
      throw new Error(`answered ${o.status}, expected ${stage}`);
    }
  } else if (!PARSE_STATUSES.includes(o.status)) {
    throw new Error(`answered ${o.status} to a complete head`);
  }
  if (o.status === 408 && o.elapsed > HANDSHAKE_TIMEOUT + 2000) {
    throw new Error(`408 only after ${Math.round(o.elapsed)} ms`);
  }
  if (o.status === 101) {
    const key =
      /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(latin1.decode(c.input))?.[1]
        .trim() ?? c.key;
    const expected = await acceptKey(key);
    if (
      !answer.toLowerCase().includes(
        `sec-websocket-accept: ${expected.toLowerCase()}\r\n`,
      )
    ) {
      throw new Error("101 without the right Sec-WebSocket-Accept");
    }
  }
  if (!c.mutated && !c.stall) {
    const origin = /\r\nOrigin: ([^\r]*)/.exec(latin1.decode(c.input))?.[1];
    const fields =
      latin1.decode(c.input).split("\r\n\r\n")[0].split("\r\n").length - 1;
    const want = fields > c.maxHeaders
      ? 431
      : c.checkOrigin && origin === "https://evil.test"
      ? 403
      : 101;
    if (o.status !== want && stage === "parsed") {
      throw new Error(
        `a valid request was answered ${o.status}, expected ${want}`,
      );
    }
  }
  return String(o.status);
}

/** Describes a case for a failure report. */
export function describeHandshake(c: HandshakeCase): string {
  return `handshake seed ${c.seed} (${c.transport}${
    c.stall ? ", stalls" : ""
  }, head ${c.maxHeadBytes}, ` +
    `line ${c.maxLineBytes}, fields ${c.maxHeaders}, ${c.input.length} bytes in ${c.chunks.length} reads): ` +
    JSON.stringify(latin1.decode(c.input.subarray(0, 300)));
}
