/**
 * Frame writing through a preallocated scratchpad, with writes serialised and
 * coalesced.
 *
 * One file past 500 lines on purpose: the fast path, the queued path, holds
 * and the in-place framing all move the same two scratchpads and in-flight
 * state, which a split would have to expose as fields of a shared object.
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import {
  encodeHeader,
  headerSize,
  MAX_CONTROL_PAYLOAD,
  MAX_HEADER_BYTES,
} from "../codec/header.ts";
import { maskInPlace, nextMaskKey } from "../codec/mask.ts";
import { OpCode } from "../codec/opcode.ts";
import { giveBuffer, pooledSize, takeBuffer, viewOf } from "./buffer_pool.ts";
import type { ByteSink } from "./transport.ts";
import type { WriteBudget } from "./write_budget.ts";
import { holdUntilNextTask, letGo } from "./held_writes.ts";
import { encodeUtf8Into } from "../codec/utf8.ts";

const RESOLVED: Promise<void> = Promise.resolve();
/** Shared by every writer until it has views of its own (and by servers as the unused key). */
const EMPTY = new Uint8Array(0);
/** Strings up to this length are encoded by hand: no view or result object. */
const SHORT_TEXT = 256;

/** The largest piece a frame larger than the scratchpad is copied in. */
const MASK_PIECE = 256 * 1024;
/** The scratchpad grows (from the pool) up to this size for the replies a burst gathers. */
const BURST_SCRATCHPAD = 128 * 1024;
/** Frames a grown scratchpad makes room for: one growth per burst, not per frame. */
const BURST_FRAMES = 4;

/**
 * Bytes a message buffer keeps free before it for a reply's header written in
 * place (`lendHeadroom`): a whole header, rounded up so that the payload stays
 * 16-byte aligned.
 */
export const HEADROOM = 16;

/** Marks a write of bytes that are already a complete frame. */
export const RAW = -1;
const encoder = new TextEncoder();

/**
 * Assembles frames in one of two scratchpads and hands them to the transport.
 *
 * A frame that fits is copied (and masked, for a client) into the scratchpad
 * synchronously, so the caller may reuse its bytes as soon as the call returns.
 * While one scratchpad is being written, frames gather in the other and go out in
 * a single write when the first settles: pipelined small messages cost one
 * transport write per batch, not per message. A scratchpad is never touched while
 * the transport holds it.
 *
 * A frame too large for the scratchpad is written from the caller's bytes (server)
 * or masked through the scratchpad piece by piece (client); its promise settles only
 * once the transport has taken all of it.
 *
 * Invariant, shared by every writer in the process: a writer asked to `hold()`
 * (its reader has more input buffered) keeps its frames until `release()`, or
 * until the next macrotask at the latest: one `setImmediate` releases all the
 * writers holding at that moment (`held_writes.ts`). It is the only task a
 * writer schedules on its own, and it leaves the shared set as soon as it
 * releases.
 */
export class FrameWriter {
  #sink: ByteSink;
  #masked: boolean;
  #key: Uint8Array;
  #capacity: number;
  #buf: Uint8Array | null = null;
  #spare: Uint8Array | null = null;
  #used = 0;
  #inflight: Promise<void> | null = null;
  #error: unknown = null;
  /** Slow-path writes waiting their turn; the fast path yields to them. */
  #queue: Promise<void> = RESOLVED;
  #queued = 0;
  #highWaterMark: number;
  #limit: number;
  #budget: WriteBudget | null;
  #queuedBytes = 0;
  // The write callbacks (see `#bind`).
  #onWritten: ((n: number) => void | Promise<void>) | null = null;
  #onFailed: ((err: unknown) => void) | null = null;

  #written(n: number): void | Promise<void> {
    if (n < this.#out.length) {
      // A short write: send the rest before the buffer is reused.
      this.#out = this.#out.subarray(n);
      return this.#sink.writeSome(this.#out).then(
        this.#onWritten,
        this.#onFailed,
      );
    }
    this.#spare = this.#flushed;
    this.#flushed = null;
    this.#out = EMPTY; // a view would keep the scratchpad once it is pooled
    this.#inflight = null;
    this.#inflightBytes = 0;
    if (this.#used > 0) this.#kick();
    else if (!this.#held) this.#rest();
  }

  #failed(err: unknown): void {
    this.#error ??= err;
    this.#flushed = null;
    this.#inflight = null;
  }

  #flushed: Uint8Array | null = null;
  /** The bytes of `#flushed` still being written. */
  #out: Uint8Array = EMPTY;
  #inflightBytes = 0;
  #held = false;
  /** The reader's message buffer, whose headroom this writer may frame into. */
  #lent: Uint8Array | null = null;

  /**
   * Prepares a writer over a sink.
   *
   * @param sink Where the bytes go.
   * @param masked Whether frames are masked (the client role).
   * @param chunkSize The scratchpad's payload capacity.
   * @param highWaterMark Bytes that may wait in the scratchpad before writers wait.
   * @param limit Bytes that may wait in the queue before further writes are
   * refused (a single write is always taken when nothing waits).
   * @param budget Bytes that may wait in the queues of every writer sharing it.
   */
  constructor(
    sink: ByteSink,
    masked: boolean,
    chunkSize: number,
    highWaterMark: number = chunkSize,
    limit: number = Infinity,
    budget: WriteBudget | null = null,
  ) {
    this.#budget = budget;
    this.#sink = sink;
    this.#masked = masked;
    this.#key = masked ? new Uint8Array(4) : EMPTY;
    this.#capacity = chunkSize + MAX_HEADER_BYTES;
    this.#highWaterMark = highWaterMark;
    this.#limit = limit;
  }

  /** Bytes accepted but not yet handed to the transport. */
  get bufferedAmount(): number {
    return this.#used + this.#inflightBytes + this.#queuedBytes;
  }

  /** The first write error, if a write failed. */
  get error(): unknown {
    return this.#error;
  }

  /**
   * Writes one frame.
   *
   * @param first The first header byte: FIN | RSV | opcode.
   * @param payload The payload; copied now unless larger than the scratchpad.
   */
  write(first: number, payload: Uint8Array): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#failure());
    if (this.#queued === 0 && this.#tryAppend(first, payload)) {
      return this.#mayGoOn() ? RESOLVED : this.flush();
    }
    return this.#writeQueued(first, payload);
  }

  /** Queues a frame behind the writes waiting their turn (apart: see `#bind`). */
  #writeQueued(first: number, payload: Uint8Array): Promise<void> {
    const size = payload.length;
    const refused = this.#admit(first, size);
    if (refused !== null) return Promise.reject(refused);
    // Small payloads are copied so that the caller (or the connection's control
    // buffer, up to 125 bytes whatever the chunk size) may reuse them at once.
    const bytes = size <= Math.max(this.#capacity, MAX_CONTROL_PAYLOAD)
      ? payload.slice()
      : payload;
    this.#queuedBytes += size;
    return this.#enqueue(() => this.#writeSlow(first, bytes), size);
  }

  /**
   * Writes one frame now if it can go without waiting: nothing is queued and it
   * fits the scratchpad.
   *
   * @returns Whether the frame was taken (copied).
   */
  tryWrite(first: number, payload: Uint8Array): boolean {
    return this.#error === null && this.#queued === 0 &&
      this.#tryAppend(first, payload);
  }

  /**
   * Queues a control frame the connection owes the peer, whose payload is taken
   * (by `take()`, which must return bytes that stay unchanged) only when its turn
   * comes: until then the owner may replace it, so a later ping's pong supersedes
   * an unsent one. Counts as a full control payload against the write buffer
   * limit, and is never refused.
   *
   * @returns Settles once the frame is in the scratchpad (or written).
   */
  writeLater(first: number, take: () => Uint8Array): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#failure());
    this.#queuedBytes += MAX_CONTROL_PAYLOAD;
    this.#budget?.force(MAX_CONTROL_PAYLOAD);
    return this.#enqueue(
      () => this.#writeSlow(first, take()),
      MAX_CONTROL_PAYLOAD,
    );
  }

  /**
   * Writes bytes that are already one or more complete frames, as they are: the
   * broadcast path, where one encoded frame goes to many connections.
   *
   * @param frames The encoded frames; copied now unless larger than the scratchpad.
   */
  writeRaw(frames: Uint8Array): Promise<void> {
    return this.write(RAW, frames);
  }

  /**
   * Writes one frame whose payload is `text` encoded as UTF-8, encoding straight
   * into the scratchpad when it fits.
   */
  writeText(first: number, text: string): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#failure());
    const bound = text.length * 3;
    if (this.#queued === 0 && bound + MAX_HEADER_BYTES <= this.#capacity) {
      const buf = this.#room();
      if (this.#capacity - this.#used >= bound + MAX_HEADER_BYTES) {
        this.#appendText(buf, first, text, bound);
        return this.#mayGoOn() ? RESOLVED : this.flush();
      }
    }
    return this.write(first, encoder.encode(text));
  }

  /**
   * Whether a writer may go on without waiting: the scratchpad is under the
   * high-water mark, or gathers the replies to a burst of input (held) and has
   * not outgrown its burst size.
   */
  #mayGoOn(): boolean {
    return this.#used <= this.#highWaterMark ||
      (this.#held && this.#used <= BURST_SCRATCHPAD);
  }

  /** Waits until every accepted byte has been handed to the transport. */
  async flush(): Promise<void> {
    await this.#queue;
    await this.#drain();
  }

  /**
   * Counts `size` queued bytes against the connection's limit and the shared
   * budget, or tells why they cannot queue. A close frame is owed, and one at
   * most: it is counted but never refused.
   */
  #admit(first: number, size: number): WebSocketError | null {
    const budget = this.#budget;
    if ((first & 0x0f) === OpCode.Close) {
      budget?.force(size);
    } else if (
      this.#queuedBytes > 0 && this.#queuedBytes + size > this.#limit
    ) {
      return new WebSocketError(
        "write_buffer_full",
        `Cannot queue ${size} bytes: ${this.#queuedBytes} bytes already wait`,
      );
    } else if (budget !== null && !budget.take(size)) {
      return new WebSocketError(
        "write_buffer_full",
        `Cannot queue ${size} bytes: the shared write budget has ${budget.buffered} of ${budget.limit} bytes waiting`,
      );
    }
    return null;
  }

  #enqueue(task: () => Promise<void>, size: number): Promise<void> {
    this.#queued++;
    const run = this.#queue.then(task);
    const done = run.finally(() => {
      this.#queued--;
      this.#queuedBytes -= size;
      this.#budget?.give(size);
    });
    this.#queue = done.catch(() => {});
    return done;
  }

  /** The scratchpad being filled, taken from the pool on first use. */
  #room(): Uint8Array {
    if (this.#buf === null) {
      this.#buf = this.#spare ?? takeBuffer(this.#capacity);
      this.#spare = null;
    }
    return this.#buf;
  }

  /**
   * Everything written and nothing gathering: the scratchpads go back to the
   * pool, so a connection that went quiet holds none.
   */
  #rest(): void {
    if (this.#buf !== null) giveBuffer(this.#buf);
    if (this.#spare !== null) giveBuffer(this.#spare);
    this.#buf = this.#spare = null;
  }

  /**
   * The scratchpad being filled with room for `size` more bytes, or `null`.
   * While held (gathering the replies to a burst of input), it grows from the
   * pool up to `BURST_SCRATCHPAD`, so that replies to large frames leave
   * together like small ones; the limits on queued bytes then need not apply,
   * since the burst bounds them.
   */
  #roomFor(size: number): Uint8Array | null {
    const buf = this.#room();
    if (size <= buf.length - this.#used) return buf;
    const total = this.#used + size;
    if (!this.#held || total > BURST_SCRATCHPAD) return null;
    const grown = takeBuffer(
      pooledSize(
        Math.max(total, Math.min(BURST_FRAMES * size, BURST_SCRATCHPAD)),
      ),
    );
    if (this.#used > 0) grown.set(buf.subarray(0, this.#used));
    giveBuffer(buf);
    return this.#buf = grown;
  }

  /**
   * Appends a frame (or, with `first` = RAW, bytes already framed) if it fits,
   * growing the scratchpad for it if need be.
   */
  #tryAppend(first: number, payload: Uint8Array): boolean {
    const buf = this.#roomFor(this.#sizeOf(first, payload));
    if (buf === null) return false;
    let at = this.#used;
    const key = this.#masked && first !== RAW ? this.#key : null;
    if (key !== null) nextMaskKey(key);
    if (first !== RAW) at += encodeHeader(buf, at, first, payload.length, key);
    const n = payload.length;
    if (n < 64) {
      for (let i = 0; i < n; i++) buf[at + i] = payload[i];
    } else {
      buf.set(payload, at);
    }
    if (key !== null) maskInPlace(buf, key, 0, at, at + n);
    this.#used = at + n;
    this.#kick();
    return true;
  }

  #appendText(buf: Uint8Array, first: number, text: string, bound: number) {
    const key = this.#masked ? this.#key : null;
    const reserved = headerSize(bound, key !== null);
    const start = this.#used + reserved;
    const written = text.length <= SHORT_TEXT
      ? encodeUtf8Into(text, buf, start)
      : encoder.encodeInto(text, buf.subarray(start, start + bound)).written;
    const size = headerSize(written, key !== null);
    let at = this.#used;
    if (size < reserved) buf.copyWithin(at + size, start, start + written);
    if (key !== null) nextMaskKey(key);
    at += encodeHeader(buf, at, first, written, key);
    if (key !== null) maskInPlace(buf, key, 0, at, at + written);
    this.#used = at + written;
    this.#kick();
  }

  #sizeOf(first: number, payload: Uint8Array): number {
    return first === RAW
      ? payload.length
      : headerSize(payload.length, this.#masked) + payload.length;
  }

  async #writeSlow(first: number, payload: Uint8Array): Promise<void> {
    if (this.#error !== null) throw this.#failure();
    const size = this.#sizeOf(first, payload);
    if (size <= this.#capacity) {
      while (size > this.#capacity - this.#used) await this.#waitWritten();
      this.#tryAppend(first, payload);
      if (this.#used > this.#highWaterMark) await this.#drain();
      return;
    }
    await this.#drain();
    const framed = this.#framedInPlace(first, payload);
    if (framed !== null) {
      await this.#sink.write(framed).catch((err) => this.#failed(err));
      if (this.#error !== null) throw this.#failure();
      return;
    }
    const key = this.#masked && first !== RAW ? this.#key : null;
    if (key !== null) nextMaskKey(key);
    if (first !== RAW) {
      this.#used = encodeHeader(this.#room(), 0, first, payload.length, key);
    }
    if (key === null && (first === RAW || payload.length > MASK_PIECE)) {
      await this.#drain();
      await this.#sink.write(payload).catch((err) => this.#failed(err));
      if (this.#error !== null) throw this.#failure();
      return;
    }
    // Up to MASK_PIECE at a time in a buffer of its own (masked, for a client),
    // the header in front: one transport write per piece, where the header
    // alone or a scratchpad-sized piece would each cost one.
    const head = this.#used;
    const room = head + Math.min(payload.length, MASK_PIECE);
    // Pooled: a run of large replies allocates nothing per message.
    const piece = takeBuffer(pooledSize(room));
    piece.set(this.#buf!.subarray(0, head));
    this.#used = 0;
    let phase = 0;
    try {
      for (let from = 0, at = head; from < payload.length; at = 0) {
        const n = Math.min(room - at, payload.length - from);
        piece.set(payload.subarray(from, from + n), at);
        if (key !== null) phase = maskInPlace(piece, key, phase, at, at + n);
        from += n;
        await this.#sink.write(piece.subarray(0, at + n)).catch((err) =>
          this.#failed(err)
        );
        if (this.#error !== null) throw this.#failure();
      }
    } finally {
      giveBuffer(piece);
    }
  }

  /**
   * Lends this writer the `HEADROOM` bytes before `buffer`, which nothing else
   * reads or writes: a frame whose payload is all of `buffer`'s first bytes
   * then gets its header there and goes out in one write, with no copy (a
   * server that echoes or forwards a large message). `null` takes it back.
   */
  lendHeadroom(buffer: Uint8Array | null): void {
    this.#lent = buffer;
  }

  /**
   * `payload` with its header written in front of it in the lent headroom, if
   * `payload` starts the lent buffer and the frame is not masked; else `null`.
   */
  #framedInPlace(first: number, payload: Uint8Array): Uint8Array | null {
    const lent = this.#lent;
    if (
      lent === null || this.#masked || first === RAW ||
      payload.buffer !== lent.buffer || payload.byteOffset !== lent.byteOffset
    ) {
      return null;
    }
    const size = headerSize(payload.length, false);
    const start = payload.byteOffset - size;
    const frame = new Uint8Array(payload.buffer, start, size + payload.length);
    encodeHeader(frame, 0, first, payload.length, null);
    return frame;
  }

  /**
   * Holds small frames in the scratchpad instead of starting a write for the
   * first at once, until {@linkcode release} or the next macrotask at the latest:
   * replies to a batch of messages that came in one read go out in one write.
   */
  hold(): void {
    if (this.#held) return;
    this.#held = true;
    holdUntilNextTask(this);
  }

  /** Ends a {@linkcode hold}: starts writing what gathered. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    letGo(this);
    this.#kick();
  }

  /** Ends a hold without writing: the transport is going away. */
  abandonHold(): void {
    if (!this.#held) return;
    this.#held = false;
    letGo(this);
  }

  /** Starts writing the filled scratchpad unless a write is already in flight. */
  #kick(): void {
    if (
      this.#inflight !== null || this.#used === 0 || this.#error !== null ||
      this.#held
    ) {
      return;
    }
    const buf = this.#buf!;
    this.#flushed = buf;
    this.#out = viewOf(buf, this.#used);
    this.#buf = this.#spare;
    this.#spare = null;
    this.#inflightBytes = this.#used;
    this.#used = 0;
    this.#inflight = this.#sink.writeSome(this.#out).then(
      this.#onWritten ?? this.#bind(),
      this.#onFailed,
    );
  }

  /**
   * Binds the write callbacks on the first write (an idle connection that never
   * wrote holds none); returns `#onWritten`. Apart from `#kick`, as the queued
   * path is from `write`: a closure in a function that runs per frame, even one
   * not made, makes each call allocate a context until the code is optimized.
   */
  #bind(): (n: number) => void | Promise<void> {
    this.#onFailed = (err) => this.#failed(err);
    return this.#onWritten = (n) => this.#written(n);
  }

  async #waitWritten(): Promise<void> {
    this.release();
    this.#kick();
    if (this.#inflight !== null) await this.#inflight;
    if (this.#error !== null) throw this.#failure();
  }

  async #drain(): Promise<void> {
    while (this.#used > 0 || this.#inflight !== null) await this.#waitWritten();
    if (this.#error !== null) throw this.#failure();
  }

  #failure(): WebSocketError {
    return new WebSocketError("closed", "Cannot write: the transport failed", {
      cause: this.#error,
    });
  }
}
