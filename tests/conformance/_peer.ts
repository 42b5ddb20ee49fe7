/**
 * One side of a conformance case over a raw TCP connection: it sends hand-made
 * frames, reads the testee's frames in the background, answers its pings and
 * close, and records everything it sees together with any protocol violation.
 *
 * @module
 */

import { type DeflateParams, Deflater, Inflater } from "./_deflate.ts";
import { scanDeflate } from "./_deflate_scan.ts";
import { withTimeout } from "./_handshake.ts";
import {
  CLOSE_CODES,
  closePayload,
  concat,
  concatAll,
  encodeFrame,
  type FrameOptions,
  isValidCloseCode,
  Op,
  type ParsedFrame,
  parseFrame,
  Rsv,
} from "../_wire.ts";

/**
 * A frame a case sends: the wire toolkit's options, except that `mask` left
 * out means "as the harness's role requires" (a random key when it is the
 * client); `true` or `false` masks the wrong way on purpose.
 */
export type FrameSpec = Omit<FrameOptions, "mask" | "payload"> & {
  mask?: boolean;
  payload?: Uint8Array;
};

/** The bytes of `specs` back to back, masked when `roleMasks` unless a spec says otherwise. */
export function joinFrames(specs: FrameSpec[], roleMasks: boolean): Uint8Array {
  return concat(
    ...specs.map((s) => encodeFrame({ ...s, mask: s.mask ?? roleMasks })),
  );
}

/** The role the harness plays; the testee plays the other one. */
export type Role = "client" | "server";

/** A message or pong received from the testee. */
export type PeerEvent =
  | {
    kind: "message";
    opcode: number;
    data: Uint8Array;
    compressed: boolean;
    atMs: number;
  }
  | { kind: "pong"; data: Uint8Array; atMs: number };

/** The testee's close frame. */
export interface ReceivedClose {
  code?: number;
  reason: string;
  atMs: number;
}

/** Settings of a {@linkcode Peer}. */
export interface PeerOptions {
  /** The harness's role. */
  role: Role;
  /** The negotiated permessage-deflate parameters, when any. */
  deflate?: DeflateParams;
  /** The largest message accepted from the testee, in bytes. */
  maxMessage: number;
  /** How long one write may block before the connection is dropped. */
  writeTimeoutMs: number;
}

const VALID_CLOSE = isValidCloseCode;

/** The harness's end of one case's connection. */
export class Peer {
  /** Messages and pongs from the testee, in arrival order. */
  readonly events: PeerEvent[] = [];
  /** Protocol violations by the testee, each one a failure. */
  readonly violations: string[] = [];
  /** Free-form observations, shown in the report. */
  readonly notes: string[] = [];
  /** Flags a case sets to inform its verdict (e.g. `"late"`). */
  readonly flags = new Set<string>();
  /** Pings received from the testee (answered automatically). */
  pingsReceived = 0;
  /** The testee's close frame. */
  closeReceived: ReceivedClose | undefined;
  /** The first close frame the harness sent. */
  closeSent: { code?: number; atMs: number } | undefined;
  /** When the testee ended the TCP connection (EOF or reset). */
  eofAtMs: number | undefined;
  /** Why writing failed, when it did (the testee may have dropped the connection). */
  writeError: string | undefined;

  readonly role: Role;
  readonly deflate: DeflateParams | undefined;
  #conn: Deno.Conn;
  #options: PeerOptions;
  #t0 = performance.now();
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #disposed = false;
  #chain: Promise<void> = Promise.resolve();
  #waiters = new Set<() => void>();
  #message: {
    opcode: number;
    parts: Uint8Array[];
    size: number;
    compressed: boolean;
  } | undefined;
  #deflater: Deflater | undefined;
  #inflater: Inflater | undefined;
  #loop: Promise<void> | undefined;

  constructor(conn: Deno.Conn, head: Uint8Array, options: PeerOptions) {
    this.#conn = conn;
    this.#options = options;
    this.role = options.role;
    this.deflate = options.deflate;
    this.#buf = new Uint8Array(Math.max(64 * 1024, head.length));
    this.#buf.set(head);
    this.#end = head.length;
    if (options.deflate) {
      const d = options.deflate;
      const mine = this.role === "client"
        ? { bits: d.clientMaxWindowBits, reset: d.clientNoContextTakeover }
        : { bits: d.serverMaxWindowBits, reset: d.serverNoContextTakeover };
      const theirs = this.role === "client"
        ? d.serverNoContextTakeover
        : d.clientNoContextTakeover;
      this.#deflater = new Deflater(mine.bits, mine.reset);
      this.#inflater = new Inflater(theirs, options.maxMessage);
    }
  }

  /** Starts reading the testee's frames in the background. */
  start(): void {
    this.#loop ??= this.#readLoop();
  }

  /** Milliseconds since the connection was set up. */
  now(): number {
    return Math.round((performance.now() - this.#t0) * 10) / 10;
  }

  /** Whether the testee closed (frame or TCP) or the harness gave up on the connection. */
  get ended(): boolean {
    return this.closeReceived !== undefined || this.eofAtMs !== undefined ||
      this.#disposed;
  }

  /** Messages received so far. */
  get messages(): PeerEvent[] {
    return this.events.filter((e) => e.kind === "message");
  }

  /** Encodes a frame, masked when the harness is the client. */
  frame(spec: FrameSpec): Uint8Array {
    return encodeFrame({ ...spec, mask: spec.mask ?? this.role === "client" });
  }

  /** Sends frames in one write. */
  send(...specs: FrameSpec[]): Promise<void> {
    const parts = specs.map((s) => this.frame(s));
    const closeAt = specs.findIndex((s) => s.opcode === Op.Close);
    return this.#enqueue(async () => {
      if (closeAt >= 0) this.noteSent(specs[closeAt]);
      for (const p of parts) await this.#writeBytes(p);
    });
  }

  /** Sends frames (or raw bytes) in writes of `chunk` bytes, pausing `delayMs` between them. */
  sendChopped(
    what: FrameSpec[] | Uint8Array,
    chunk: number,
    delayMs = 0,
  ): Promise<void> {
    const bytes = what instanceof Uint8Array
      ? what
      : joinBytes(what.map((s) => this.frame(s)));
    if (!(what instanceof Uint8Array)) {
      const close = what.find((s) => s.opcode === Op.Close);
      if (close) this.noteSent(close);
    }
    return this.#enqueue(async () => {
      for (let at = 0; at < bytes.length; at += chunk) {
        await this.#writeBytes(bytes.subarray(at, at + chunk));
        if (delayMs > 0 && at + chunk < bytes.length) await sleep(delayMs);
      }
    });
  }

  /** Sends raw bytes as they are. */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(() => this.#writeBytes(bytes));
  }

  /** Sends a close frame with a code and reason (or an empty one). */
  close(code?: number, reason: Uint8Array | string = ""): Promise<void> {
    return this.send({ opcode: Op.Close, payload: closePayload(code, reason) });
  }

  /** Compresses one message with the harness's negotiated deflate context. */
  compress(data: Uint8Array): Promise<Uint8Array> {
    if (!this.#deflater) {
      throw new Error("permessage-deflate was not negotiated");
    }
    return this.#deflater.compress(data);
  }

  /** Waits until `pred` holds (checked after every event) or `ms` pass; resolves with `pred()`. */
  waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(pred());
      }, ms);
      this.#waiters.add(check);
    });
  }

  /** Waits for `n` events in total, or for the testee to close. */
  waitEvents(n: number, ms: number): Promise<boolean> {
    return this.waitFor(() => this.events.length >= n || this.ended, ms);
  }

  /** Waits until the pending writes are on the wire. */
  drained(): Promise<void> {
    return this.#chain;
  }

  /** Closes the socket and the compression streams; idempotent. */
  async dispose(): Promise<void> {
    if (!this.#disposed) {
      this.#disposed = true;
      try {
        this.#conn.close();
      } catch { /* already closed */ }
      this.#deflater?.close();
      this.#inflater?.close();
      this.#notify();
    }
    await this.#loop;
  }

  /** Records frames sent outside {@linkcode Peer.send} (with the handshake): a close counts. */
  noteSent(spec: FrameSpec): void {
    if (spec.opcode !== Op.Close) return;
    if (this.closeSent) return;
    const p = spec.payload ?? new Uint8Array(0);
    this.closeSent = {
      code: p.length >= 2 ? (p[0] << 8) | p[1] : undefined,
      atMs: this.now(),
    };
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(job);
    this.#chain = p.catch(() => {});
    return p;
  }

  async #writeBytes(bytes: Uint8Array): Promise<void> {
    if (this.writeError !== undefined || this.#disposed) return;
    try {
      let at = 0;
      while (at < bytes.length) {
        const n = await withTimeout(
          this.#conn.write(bytes.subarray(at)),
          this.#options.writeTimeoutMs,
        );
        if (n === undefined) {
          this.writeError =
            `write blocked for ${this.#options.writeTimeoutMs} ms`;
          await this.dispose();
          return;
        }
        at += n;
      }
    } catch (e) {
      this.writeError = e instanceof Error ? e.message : String(e);
    }
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(256 * 1024);
    await this.#parseAvailable();
    while (!this.#disposed) {
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch (e) {
        if (this.#disposed) break;
        this.notes.push(`read error: ${e instanceof Error ? e.message : e}`);
        n = null;
      }
      if (n === null) {
        if (!this.#disposed) this.eofAtMs = this.now();
        this.#notify();
        break;
      }
      this.#append(chunk.subarray(0, n));
      await this.#parseAvailable();
    }
  }

  #append(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buf.length) {
      const live = this.#end - this.#start;
      let cap = this.#buf.length;
      while (cap < live + bytes.length) cap *= 2;
      const next = cap === this.#buf.length ? this.#buf : new Uint8Array(cap);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  async #parseAvailable(): Promise<void> {
    while (!this.#disposed) {
      let parsed;
      try {
        parsed = parseFrame(
          this.#buf,
          this.#start,
          this.#end,
          this.#options.maxMessage,
        );
      } catch (e) {
        this.violations.push(e instanceof Error ? e.message : String(e));
        await this.dispose();
        return;
      }
      if (!parsed) return;
      this.#start = parsed.next;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      await this.#onFrame(parsed.frame);
      this.#notify();
    }
  }

  async #onFrame(f: ParsedFrame): Promise<void> {
    const op = f.opcode;
    if (this.closeReceived) {
      this.violations.push(`frame with opcode ${op} after the close frame`);
      return;
    }
    const wantMasked = this.role === "server";
    if (f.masked !== wantMasked) {
      this.violations.push(
        f.masked
          ? "masked frame from a server"
          : "unmasked frame from a client",
      );
    }
    if (f.nonMinimalLength) {
      this.violations.push("payload length not in its minimal form");
    }
    if (op >= 0x8) {
      this.#onControl(f);
      return;
    }
    if (op > 0x2) {
      this.violations.push(`reserved opcode ${op}`);
      return;
    }
    const rsvAllowed = this.deflate && op !== Op.Continuation ? Rsv.Rsv1 : 0;
    if (f.rsv & ~rsvAllowed) {
      this.violations.push(
        `RSV bits 0x${f.rsv.toString(16)} on a frame with opcode ${op}`,
      );
    }
    if (op === Op.Continuation) {
      if (!this.#message) {
        this.violations.push(
          "continuation frame without a message to continue",
        );
        return;
      }
    } else {
      if (this.#message) {
        this.violations.push("new data frame inside a fragmented message");
      }
      this.#message = {
        opcode: op,
        parts: [],
        size: 0,
        compressed: (f.rsv & Rsv.Rsv1) !== 0,
      };
    }
    const m = this.#message;
    m.parts.push(f.payload);
    m.size += f.payload.length;
    if (m.size > this.#options.maxMessage) {
      this.violations.push(`message above ${this.#options.maxMessage} bytes`);
      await this.dispose();
      return;
    }
    if (!f.fin) return;
    this.#message = undefined;
    await this.#deliver(m.opcode, joinBytes(m.parts), m.compressed);
  }

  async #deliver(
    opcode: number,
    payload: Uint8Array,
    compressed: boolean,
  ): Promise<void> {
    let data = payload;
    if (compressed && this.#inflater) this.#checkWindow(payload);
    if (compressed && this.#inflater) {
      try {
        data = await this.#inflater.inflate(payload);
      } catch (e) {
        this.violations.push(
          `compressed message does not inflate: ${
            e instanceof Error ? e.message : e
          }`,
        );
        return;
      }
    }
    if (opcode === Op.Text) {
      try {
        new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
      } catch {
        this.violations.push("text message that is not valid UTF-8");
      }
    }
    this.events.push({
      kind: "message",
      opcode,
      data,
      compressed,
      atMs: this.now(),
    });
  }

  /** A peer must not reach back further than its negotiated window (RFC 7692 §7.1.2). */
  #checkWindow(payload: Uint8Array): void {
    const d = this.deflate!;
    const bits = this.role === "client"
      ? d.serverMaxWindowBits
      : d.clientMaxWindowBits;
    if (bits >= 15) return;
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set([0x00, 0x00, 0xff, 0xff], payload.length);
    try {
      const { maxDistance } = scanDeflate(input, this.#options.maxMessage);
      if (maxDistance > 1 << bits) {
        this.violations.push(
          `back-reference distance ${maxDistance} beyond the negotiated window of ${
            1 << bits
          } (${bits} bits)`,
        );
      }
    } catch (e) {
      this.notes.push(
        `DEFLATE walk failed: ${e instanceof Error ? e.message : e}`,
      );
    }
  }

  #onControl(f: ParsedFrame): void {
    const op = f.opcode;
    if (op > Op.Pong) {
      this.violations.push(`reserved control opcode ${op}`);
      return;
    }
    if (!f.fin) this.violations.push(`fragmented control frame (opcode ${op})`);
    if (f.payload.length > 125) {
      this.violations.push(`control frame of ${f.payload.length} bytes`);
    }
    if (f.rsv) {
      this.violations.push(`RSV bits on a control frame (opcode ${op})`);
    }
    if (op === Op.Ping) {
      this.pingsReceived++;
      if (!this.closeSent) this.send({ opcode: Op.Pong, payload: f.payload });
    } else if (op === Op.Pong) {
      this.events.push({ kind: "pong", data: f.payload, atMs: this.now() });
    } else {
      this.#onClose(f.payload);
    }
  }

  #onClose(p: Uint8Array): void {
    let code: number | undefined;
    let reason = "";
    if (p.length === 1) {
      this.violations.push("close frame with a 1-byte payload");
    }
    if (p.length >= 2) {
      code = (p[0] << 8) | p[1];
      if (!VALID_CLOSE(code)) {
        this.violations.push(`close code ${code} is not allowed on the wire`);
      }
      try {
        reason = new TextDecoder("utf-8", { fatal: true }).decode(
          p.subarray(2),
        );
      } catch {
        this.violations.push("close reason that is not valid UTF-8");
      }
    }
    this.closeReceived = { code, reason, atMs: this.now() };
    if (!this.closeSent) {
      const echo = code === undefined
        ? undefined
        : VALID_CLOSE(code)
        ? code
        : CLOSE_CODES.ProtocolError;
      this.close(echo);
    }
  }
}

/** Joins frames or fragments; one part is used as it is, with no copy. */
function joinBytes(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatAll(parts);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
