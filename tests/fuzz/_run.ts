/**
 * Fuzz cases for the frame reader: each seed makes one byte stream (a valid one,
 * mutated) with limits and read splits, runs a {@linkcode Conn} (or a
 * {@linkcode PerMessageDeflateConn}) over it in memory or over loopback TCP, and
 * checks the outcome against the reference reader in `_frames.ts`.
 *
 * @module
 */

import { constants, inflateRawSync } from "node:zlib";
import { CloseError, Conn, Rsv, WebSocketError } from "../../mod.ts";
import type { WebSocketConn } from "../../mod.ts";
import { compressionStreamEngine, zlibEngine } from "../../deflate.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { concat, type ParsedFrame, parseFrames } from "../_wire.ts";
import {
  encodeFrames,
  type Expected,
  type Limits,
  mutateBytes,
  mutateFrames,
  reference,
  validStream,
} from "./_frames.ts";
import { MemoryConn, MemoryStreams, type Observed } from "./_memory.ts";
import { Rng, splitRandomly } from "./_rng.ts";

/** One generated case. */
export interface FrameCase {
  seed: number;
  deflate: boolean;
  limits: Limits;
  chunkSize: number;
  transport: "direct" | "byob" | "plain";
  engine: "CompressionStream" | "zlib";
  shortWrites: number[];
  input: Uint8Array;
  chunks: Uint8Array[];
  mutated: boolean;
}

/** What a run produced. */
export interface FrameOutcome {
  messages: { opcode: number; rsv: number; data: Uint8Array }[];
  error: unknown;
  /** The error of one more read after the first failure. */
  again: unknown;
  written: Uint8Array;
  /** Whether the transport was closed (in memory) or the peer saw the end (TCP). */
  closed: boolean;
  largestRead: number;
  /** Over TCP, the written bytes may have been cut by a reset. */
  lossy: boolean;
}

/** Makes the case for a seed. */
export function frameCase(seed: number, deflate: boolean): FrameCase {
  const rng = new Rng(seed);
  const role = rng.chance(0.5) ? "server" : "client";
  const readLimit = rng.pick([200, 4096, 65536, 1 << 20]);
  const limits: Limits = {
    role,
    readLimit,
    maxFrameSize: rng.chance(0.2) ? rng.pick([100, 1000, 5000]) : readLimit,
    maxFragments: rng.chance(0.2) ? rng.range(1, 4) : 1 << 18,
    rsvAllowed: deflate ? Rsv.Rsv1 : 0,
    bufferSize: !deflate && rng.chance(0.2)
      ? rng.pick([0, 10, 300, 70000])
      : undefined,
  };
  const peerMasks = role === "server";
  const frames = validStream(rng, peerMasks, deflate);
  const mutated = rng.chance(0.85);
  let input: Uint8Array;
  if (mutated) {
    if (rng.chance(0.6)) mutateFrames(rng, frames);
    input = encodeFrames(rng, frames);
    if (rng.chance(0.6)) {
      const donor = encodeFrames(rng, validStream(rng, peerMasks, deflate));
      input = mutateBytes(rng, input, donor);
    }
  } else {
    input = encodeFrames(rng, frames);
  }
  if (rng.chance(0.05)) input = concat(input, rng.bytes(rng.range(1, 64)));
  return {
    seed,
    deflate,
    limits,
    chunkSize: rng.pick([64, 200, 4096]),
    transport: rng.pick(["direct", "direct", "byob", "plain"] as const),
    engine: rng.pick(["CompressionStream", "zlib"] as const),
    shortWrites: rng.chance(0.3) ? [rng.range(1, 7), rng.range(1, 100)] : [],
    input,
    chunks: splitRandomly(rng, input),
    mutated,
  };
}

function connOver(
  c: FrameCase,
  transport: Deno.Conn | MemoryConn | MemoryStreams,
): WebSocketConn {
  const base = new Conn(transport, {
    role: c.limits.role,
    readLimit: c.limits.readLimit,
    maxFrameSize: c.limits.maxFrameSize,
    maxFragments: c.limits.maxFragments,
    chunkSize: c.chunkSize,
    rsvAllowed: c.limits.rsvAllowed,
    extensions: c.deflate ? "permessage-deflate" : "",
    read: c.transport === "direct" ? "auto" : "byob",
    closeTimeout: 500,
  });
  if (!c.deflate) return base;
  const engine = c.engine === "zlib" ? zlibEngine() : compressionStreamEngine();
  return new PerMessageDeflateConn(base, null, { engine });
}

/** Reads messages until the first error; a copy of each is kept. */
async function readAll(c: FrameCase, conn: WebSocketConn) {
  const messages: FrameOutcome["messages"] = [];
  const buf = c.limits.bufferSize === undefined
    ? undefined
    : new Uint8Array(c.limits.bufferSize);
  for (let i = 0; i < 10_000; i++) {
    try {
      const m = await conn.readMessage(buf);
      messages.push({ opcode: m.opcode, rsv: m.rsv, data: m.data.slice() });
    } catch (error) {
      const again = await conn.readMessage(buf).then(() => null, (e) => e);
      return { messages, error, again };
    }
  }
  throw new Error("more than 10,000 messages");
}

/** Bounds a promise: rejects with a "hang" error after `ms`. */
export async function deadline<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`hang: ${what} exceeded ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a case over an in-memory transport. */
export async function runInMemory(c: FrameCase): Promise<FrameOutcome> {
  const t: MemoryConn | MemoryStreams = c.transport === "direct"
    ? new MemoryConn(c.chunks, c.shortWrites)
    : new MemoryStreams(c.chunks, c.transport === "byob");
  const conn = connOver(c, t);
  try {
    const r = await deadline(readAll(c, conn), 5000, `seed ${c.seed}`);
    await deadline(conn.closed, 5000, `closed, seed ${c.seed}`);
    const observed: Observed = t;
    return {
      ...r,
      written: observed.written(),
      closed: observed.closed,
      largestRead: observed.largestRead,
      lossy: false,
    };
  } finally {
    conn.abort();
  }
}

/** A loopback listener shared by the TCP cases of one run. */
export class Loopback {
  readonly listener: Deno.TcpListener = Deno.listen({
    hostname: "127.0.0.1",
    port: 0,
  });

  /** A fresh connection: our end and the harness's end. */
  async pair(): Promise<{ ours: Deno.TcpConn; peer: Deno.TcpConn }> {
    const [peer, ours] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: this.listener.addr.port }),
      this.listener.accept(),
    ]);
    // Small writes go out at once, as a hostile peer's would.
    peer.setNoDelay(true);
    return { ours, peer };
  }

  close(): void {
    this.listener.close();
  }
}

/** Reads a socket until it ends or resets. */
async function drainSocket(
  conn: Deno.Conn,
): Promise<{ bytes: Uint8Array; ended: boolean }> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return { bytes: concat(...parts), ended: true };
    }
    if (n === null) return { bytes: concat(...parts), ended: true };
    parts.push(buf.slice(0, n));
  }
}

/** Runs a case over a real loopback TCP connection; the harness writes the chunks. */
export async function runOverTcp(
  c: FrameCase,
  loop: Loopback,
): Promise<FrameOutcome> {
  const { ours, peer } = await loop.pair();
  const conn = connOver({ ...c, transport: "direct" }, ours);
  const feed = (async () => {
    try {
      for (const chunk of c.chunks) {
        if (chunk.length > 0) await peer.write(chunk);
      }
      await peer.closeWrite();
    } catch {
      // Our side closed first: the rest is not read anyway.
    }
  })();
  const received = drainSocket(peer);
  try {
    const r = await deadline(readAll(c, conn), 10_000, `tcp seed ${c.seed}`);
    const got = await deadline(received, 10_000, `tcp end, seed ${c.seed}`);
    await feed;
    return {
      ...r,
      written: got.bytes,
      closed: got.ended,
      largestRead: 0,
      lossy: true,
    };
  } finally {
    conn.abort();
    await feed;
    peer.close();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every complete frame in `bytes`; fails when bytes are left over and nothing was cut. */
function ourFrames(c: FrameCase, o: FrameOutcome): ParsedFrame[] {
  const frames = parseFrames(o.written);
  for (const f of frames) {
    if (f.masked !== (c.limits.role === "client")) {
      throw new Error(
        `our ${f.masked ? "masked" : "unmasked"} frame as ${c.limits.role}`,
      );
    }
  }
  return frames;
}

function closeFrameCode(f: ParsedFrame | undefined): number | null {
  if (f === undefined || f.opcode !== 0x8) return null;
  return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
}

/**
 * Checks an outcome; throws an error that names what differs.
 *
 * @returns How the case ended: "close", "eof", or the failure's close code.
 */
export function check(c: FrameCase, o: FrameOutcome): string {
  const want = reference(c.input, c.limits);
  const err = o.error;
  if (!(err instanceof CloseError) && !(err instanceof WebSocketError)) {
    throw new Error(`unexpected error type: ${err}`, { cause: err });
  }
  if (o.again !== err) throw new Error(`the error is not sticky: ${o.again}`);
  if (!o.closed) throw new Error("the transport was left open");
  const limit = Math.max(
    c.chunkSize,
    c.limits.readLimit,
    c.limits.bufferSize ?? 0,
  );
  if (o.largestRead > limit) {
    throw new Error(`a read of ${o.largestRead} bytes`);
  }
  const frames = ourFrames(c, o);
  const closes = frames.filter((f) => f.opcode === 0x8);
  if (closes.length > 1) throw new Error("more than one close frame sent");
  const sentClose = closeFrameCode(closes[0]);
  if (closes.length === 1 && frames.at(-1)!.opcode !== 0x8) {
    throw new Error("frames sent after the close frame");
  }
  const pongs = frames.filter((f) => f.opcode === 0xa).map((f) => f.payload);
  if (err instanceof WebSocketError) {
    if (err.closeCode === 1006) {
      if (sentClose !== null) {
        throw new Error(`sent ${sentClose} for a ${err.code}`);
      }
    } else if (
      sentClose !== err.closeCode && !(o.lossy && sentClose === null)
    ) {
      throw new Error(
        `failed with ${err.closeCode} (${err.code}) but sent ${sentClose}`,
      );
    }
  } else if (sentClose !== err.code && !(o.lossy && sentClose === null)) {
    throw new Error(`peer closed with ${err.code}, we echoed ${sentClose}`);
  }
  const outcome = err instanceof CloseError
    ? "close"
    : err.closeCode === 1006
    ? "eof"
    : String(err.closeCode);
  if (c.deflate) return checkDeflate(c, o, want, outcome);

  // Without compression the reference says exactly what must happen.
  if (o.messages.length !== want.messages.length) {
    throw new Error(
      `delivered ${o.messages.length} messages, expected ${want.messages.length} (end ${outcome}, want ${
        JSON.stringify(want.end)
      })`,
    );
  }
  want.messages.forEach((m, i) => {
    const got = o.messages[i];
    if (
      got.opcode !== m.opcode || got.rsv !== m.rsv ||
      !sameBytes(got.data, m.data)
    ) {
      throw new Error(`message ${i} differs`);
    }
  });
  checkEnd(want, err, outcome);
  checkPongs(pongs, want.pings, want.end.kind !== "eof" && !o.lossy);
  return outcome;
}

/**
 * Pongs answer pings in order, each with its own ping's payload; an unsent pong
 * may be superseded by a later ping's (RFC 6455 §5.5.3), but when the stream
 * ended cleanly the last ping must have been answered.
 */
function checkPongs(
  pongs: Uint8Array[],
  pings: Uint8Array[],
  complete: boolean,
): void {
  let next = 0;
  pongs.forEach((p, i) => {
    while (next < pings.length && !sameBytes(p, pings[next])) next++;
    if (next === pings.length) {
      throw new Error(`pong ${i} differs from its ping`);
    }
    next++;
  });
  if (complete && pings.length > 0 && next !== pings.length) {
    throw new Error(`${pongs.length} pongs for ${pings.length} pings`);
  }
}

function checkEnd(
  want: Expected,
  err: CloseError | WebSocketError,
  outcome: string,
): void {
  const end = want.end;
  if (end.kind === "close") {
    if (
      !(err instanceof CloseError) || err.code !== end.code ||
      err.reason !== end.reason
    ) {
      throw new Error(
        `ended ${outcome} (${err.message}), expected close ${end.code}`,
      );
    }
  } else if (end.kind === "fail") {
    if (!(err instanceof WebSocketError) || err.closeCode !== end.closeCode) {
      throw new Error(
        `ended ${outcome} (${err.message}), expected ${end.closeCode}`,
      );
    }
  } else if (!(err instanceof WebSocketError) || err.code !== "closed") {
    throw new Error(
      `ended ${outcome} (${err.message}), expected the end of the stream`,
    );
  }
}

const TAIL = new Uint8Array([0, 0, 0xff, 0xff]);

/** Inflates one message on its own; null when it fails or exceeds `limit`. */
function inflateAlone(data: Uint8Array, limit: number): Uint8Array | null {
  try {
    const out = inflateRawSync(concat(data, TAIL), {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: limit + 1,
    });
    return out.length > limit ? null : new Uint8Array(out);
  } catch {
    return null;
  }
}

/**
 * With compression, inflation may end a stream earlier (1007, 1009) than the frame
 * layer would; uncompressed messages and everything up to that point must agree.
 */
function checkDeflate(
  c: FrameCase,
  o: FrameOutcome,
  want: Expected,
  outcome: string,
): string {
  if (o.messages.length > want.messages.length) {
    throw new Error(
      `delivered ${o.messages.length} messages, expected at most ${want.messages.length}`,
    );
  }
  let firstCompressed = true;
  o.messages.forEach((got, i) => {
    const m = want.messages[i];
    if (got.opcode !== m.opcode || got.rsv !== m.rsv) {
      throw new Error(`message ${i} differs`);
    }
    if (m.rsv === 0) {
      if (!sameBytes(got.data, m.data)) throw new Error(`message ${i} differs`);
      return;
    }
    if (got.data.length > c.limits.readLimit) {
      throw new Error(`message ${i} over the read limit`);
    }
    // A mutated message may leave the shared window mid-block, so only the first
    // compressed message (fresh state) or those of a valid stream must inflate alone.
    const alone = firstCompressed || !c.mutated
      ? inflateAlone(m.data, c.limits.readLimit)
      : null;
    firstCompressed = false;
    // The CompressionStream engine holds back the output of a block the message
    // leaves unfinished (no sync flush): a prefix is all it owes.
    const owed = alone !== null && c.engine === "CompressionStream" && c.mutated
      ? alone.subarray(0, got.data.length)
      : alone;
    if (owed !== null && !sameBytes(owed, got.data)) {
      throw new Error(`message ${i} inflated to other bytes`);
    }
  });
  const err = o.error as CloseError | WebSocketError;
  const inflateFailure = err instanceof WebSocketError &&
    ["invalid_compressed_data", "message_too_big", "invalid_utf8"].includes(
      err.code,
    );
  if (o.messages.length === want.messages.length) {
    // Everything the frame layer delivers was inflated: the end must agree, unless
    // the last compressed message failed to inflate on the way.
    if (!inflateFailure) checkEnd(want, err, outcome);
  } else if (!inflateFailure) {
    throw new Error(`stopped early with ${outcome} (${err.message})`);
  }
  if (!c.mutated) {
    // A valid stream reads back whole, up to the first message that inflates past
    // the read limit.
    const tooBig = want.messages.findIndex((m) =>
      m.rsv !== 0 && inflateAlone(m.data, c.limits.readLimit) === null
    );
    if (tooBig >= 0) {
      if (
        o.messages.length !== tooBig || !(err instanceof WebSocketError) ||
        err.closeCode !== 1009
      ) {
        throw new Error(
          `message ${tooBig} inflates past the limit, yet ended ${outcome}`,
        );
      }
    } else {
      if (o.messages.length !== want.messages.length) {
        throw new Error("valid stream cut short");
      }
      checkEnd(want, err, outcome);
    }
  }
  return outcome;
}

/** Describes a case for a failure report. */
export function describe(c: FrameCase): string {
  const hex = Array.from(
    c.input.subarray(0, 64),
    (b) => b.toString(16).padStart(2, "0"),
  ).join(" ");
  return `seed ${c.seed} (${
    c.deflate ? "deflate" : "plain"
  }, ${c.limits.role}, ${c.transport}, ` +
    `chunk ${c.chunkSize}, limits ${
      JSON.stringify(c.limits)
    }, ${c.input.length} bytes in ${c.chunks.length} ` +
    `reads, ${c.mutated ? "mutated" : "valid"}): ${hex}${
      c.input.length > 64 ? " …" : ""
    }`;
}
