/**
 * The load generator: raw TCP sockets sending pre-encoded masked frames (or
 * length-prefixed messages to the raw echo), with a fixed number of messages in
 * flight per connection. It parses only frame lengths, never unmasks or copies,
 * and answers every batch of echoes with one write of the same number of new
 * messages, so it costs the same for every server.
 *
 * Run by `run.ts` with one JSON argument (a {@linkcode LoadConfig}); prints one
 * JSON line (a {@linkcode LoadResult}).
 *
 * @module
 */

import { constants, deflateRawSync } from "node:zlib";
import {
  asciiText,
  BENCH_KEY,
  encodeFrame,
  encodeRaw,
  FIN,
  jsonLikeText,
  Op,
  randomBytes,
  repeat,
  RSV1,
} from "../../_frames.ts";
import { type LoadResult, Meter, SendTimes } from "./_meter.ts";
import { sleep } from "../_process.ts";
import { upgrade } from "./_upgrade.ts";
import { jsonArgument } from "../_args.ts";

/** What one generator run does. */
export interface LoadConfig {
  /** The server's port on 127.0.0.1. */
  port: number;
  /** WebSocket frames, or the raw echo's length-prefixed messages. */
  protocol: "ws" | "raw";
  /** Payload bytes per message. */
  size: number;
  /** What the payload holds: text frames for `ascii` and `json`. */
  payload: "ascii" | "random" | "json";
  /** Offer permessage-deflate (see {@linkcode DEFLATE_OFFERS}) and send compressed frames. */
  deflate?: keyof typeof DEFLATE_OFFERS;
  /**
   * Payload bytes per frame: a longer message goes out as a first frame and
   * continuations, as gorilla/websocket's client sends it (its write buffer,
   * 4096 bytes by default, is one frame). Unset: one frame per message.
   */
  fragment?: number;
  /** Connections. */
  conns: number;
  /** Messages in flight per connection. */
  inflight: number;
  /** Time before measuring, in ms. */
  warmupMs: number;
  /** Time measured, in ms. */
  durationMs: number;
  /** The server process, whose CPU time is read from `/proc`. */
  serverPid?: number;
  /** Only open the connections, print `{"connected": N}` and hold them. */
  idle?: boolean;
}

const READ_BUFFER = 256 * 1024;
const CONNECT_BATCH = 64;
const meter = new Meter();

/** One connection: its pre-encoded batch, its parser state and send times. */
class Link {
  #conn: Deno.TcpConn;
  #batch: Uint8Array;
  #frameLength: number;
  #raw: boolean;
  #buf = new Uint8Array(READ_BUFFER);
  #head: Uint8Array;
  #skip = 0;
  #final = false;
  #carry = new Uint8Array(14);
  #carried = 0;
  #times: SendTimes;
  #inflight: number;
  stopped = false;

  constructor(
    conn: Deno.TcpConn,
    frame: Uint8Array,
    inflight: number,
    raw: boolean,
    head: Uint8Array,
  ) {
    this.#conn = conn;
    this.#frameLength = frame.length;
    this.#batch = repeat(frame, inflight);
    this.#raw = raw;
    this.#times = new SendTimes(inflight);
    this.#inflight = inflight;
    this.#head = head;
  }

  async run(): Promise<void> {
    try {
      await this.#send(this.#inflight);
      if (this.#head.length > 0) {
        this.#buf.set(this.#head);
        await this.#received(this.#head.length);
      }
      while (!this.stopped) {
        const n = await this.#conn.read(this.#buf);
        if (n === null) throw new Error("closed");
        await this.#received(n);
      }
    } catch {
      if (!this.stopped) meter.errors++;
    }
  }

  close(): void {
    this.stopped = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #received(n: number): Promise<void> {
    const done = this.#parse(n);
    if (done === 0) return;
    const now = performance.now();
    for (let i = 0; i < done; i++) meter.record(this.#times.received(now));
    if (!this.stopped) await this.#send(done);
  }

  async #send(count: number): Promise<void> {
    this.#times.sent(count, performance.now());
    const out = this.#batch.subarray(0, count * this.#frameLength);
    for (let at = 0; at < out.length;) {
      at += await this.#conn.write(at === 0 ? out : out.subarray(at));
    }
  }

  /** Consumes `n` read bytes; returns the number of messages they completed. */
  #parse(n: number): number {
    const buf = this.#buf;
    let done = 0;
    let i = 0;
    while (i < n) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, n - i);
        i += take;
        this.#skip -= take;
        if (this.#skip === 0 && this.#final) done++;
        continue;
      }
      if (this.#carried === 0) {
        const size = this.#headerSize(buf, i, n - i);
        if (size > 0 && i + size <= n) {
          const length = this.#payloadLength(buf, i);
          this.#final = this.#raw || (buf[i] & FIN) !== 0;
          i += size;
          if (length === 0 && this.#final) done++;
          else this.#skip = length;
          continue;
        }
      }
      // A header split across reads: gather it byte by byte.
      const carry = this.#carry;
      carry[this.#carried++] = buf[i++];
      const size = this.#headerSize(carry, 0, this.#carried);
      if (size > 0 && this.#carried === size) {
        const length = this.#payloadLength(carry, 0);
        this.#final = this.#raw || (carry[0] & FIN) !== 0;
        this.#carried = 0;
        if (length === 0 && this.#final) done++;
        else this.#skip = length;
      }
    }
    return done;
  }

  /** The header size once known from the bytes available, else 0. */
  #headerSize(bytes: Uint8Array, at: number, available: number): number {
    if (this.#raw) return 4;
    if (available < 2) return 0;
    const b1 = bytes[at + 1];
    const len = b1 & 0x7f;
    const base = len === 126 ? 4 : len === 127 ? 10 : 2;
    return (b1 & 0x80) !== 0 ? base + 4 : base;
  }

  #payloadLength(bytes: Uint8Array, at: number): number {
    if (this.#raw) {
      return ((bytes[at] << 24) | (bytes[at + 1] << 16) |
        (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
    }
    const len = bytes[at + 1] & 0x7f;
    if (len === 126) return (bytes[at + 2] << 8) | bytes[at + 3];
    if (len === 127) {
      let v = 0;
      for (let k = 2; k < 10; k++) v = v * 256 + bytes[at + k];
      return v;
    }
    return len;
  }
}

/** The message every connection sends, encoded once. */
export function messageFor(config: LoadConfig): Uint8Array {
  const data = config.payload === "ascii"
    ? asciiText(config.size)
    : config.payload === "json"
    ? jsonLikeText(config.size)
    : randomBytes(config.size);
  if (config.protocol === "raw") return encodeRaw(data);
  const opcode = config.payload === "random" ? Op.Binary : Op.Text;
  if (!config.deflate) return fragmented(opcode, data, config.fragment);
  const compressed = deflateRawSync(data, {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  // RFC 7692 §7.2.1: drop the trailing 00 00 ff ff of the sync flush.
  const body = new Uint8Array(compressed.subarray(0, compressed.length - 4));
  return encodeFrame(FIN | RSV1 | opcode, body, BENCH_KEY);
}

/** `data` as one message of frames carrying `fragment` bytes each at most. */
function fragmented(
  opcode: number,
  data: Uint8Array,
  fragment = data.length,
): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < data.length; at += fragment) {
    const end = Math.min(at + fragment, data.length);
    const first = (at === 0 ? opcode : Op.Continuation) |
      (end === data.length ? FIN : 0);
    frames.push(encodeFrame(first, data.subarray(at, end), BENCH_KEY));
  }
  const out = new Uint8Array(frames.reduce((sum, f) => sum + f.length, 0));
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}

/**
 * The extension offers, as clients send them. Our messages are each compressed
 * on their own (so they can be pre-encoded), which is valid under every offer:
 * - `takeover`: context takeover both ways (Firefox, `ws`'s client).
 * - `no-takeover`: no context takeover either way (gorilla/websocket), so the
 *   server compresses every message afresh.
 * - `client-no-takeover`: only the client resets, so a server may drop its
 *   inflater between messages.
 * - `client-window`: `client_max_window_bits` without a value (Chromium).
 */
export const DEFLATE_OFFERS = {
  takeover: "permessage-deflate",
  "no-takeover":
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  "client-no-takeover": "permessage-deflate; client_no_context_takeover",
  "client-window": "permessage-deflate; client_max_window_bits",
} as const;

async function open(config: LoadConfig, frame: Uint8Array): Promise<Link> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
  conn.setNoDelay(true);
  let head: Uint8Array = new Uint8Array(0);
  if (config.protocol === "ws") {
    const answer = await upgrade(
      conn,
      `127.0.0.1:${config.port}`,
      config.deflate ? DEFLATE_OFFERS[config.deflate] : "",
    );
    if (config.deflate && !answer.extensions.includes("permessage-deflate")) {
      conn.close();
      throw new Error("The server declined permessage-deflate");
    }
    head = answer.head;
  }
  return new Link(
    conn,
    frame,
    config.inflight,
    config.protocol === "raw",
    head,
  );
}

/** Opens every connection, a batch at a time so the listen backlog keeps up. */
async function openAll(config: LoadConfig, frame: Uint8Array): Promise<Link[]> {
  const links: Link[] = [];
  for (let at = 0; at < config.conns; at += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, config.conns - at);
    const opened = await Promise.all(
      Array.from({ length: batch }, () => open(config, frame)),
    );
    links.push(...opened);
  }
  return links;
}

/** Runs one measurement and returns what it saw. */
export async function generate(config: LoadConfig): Promise<LoadResult> {
  const frame = messageFor(config);
  const links = await openAll(config, frame);
  const running = links.map((link) => link.run());
  const result = await meter.window(
    config.warmupMs,
    config.durationMs,
    config.size,
    config.serverPid,
  );
  for (const link of links) link.close();
  await Promise.all(running);
  return result;
}

/** Opens the connections and holds them without traffic (for memory figures). */
async function holdIdle(config: LoadConfig): Promise<void> {
  const links = await openAll(config, messageFor(config));
  console.log(JSON.stringify({ connected: links.length }));
  // Held until the runner kills this process; a bound in case it never does.
  await sleep(600_000);
}

if (import.meta.main) {
  const config = jsonArgument<LoadConfig>();
  if (config.idle) {
    await holdIdle(config);
  } else {
    console.log(JSON.stringify(await generate(config)));
  }
  Deno.exit(0);
}
