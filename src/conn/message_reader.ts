/**
 * Frames to messages: the read state machine of a connection, its buffers, and
 * the one place where payload bytes are unmasked and checked as UTF-8.
 *
 * One file past 500 lines on purpose: every step reads and writes the same
 * private state (the frame under way, the message's destination, the mask
 * phase), which a split would have to expose as fields of a shared object.
 *
 * @module
 */

import {
  checkHeader,
  describeFault,
  type FrameLimits,
  type FrameState,
} from "../codec/check.ts";
import { WebSocketError } from "../codec/errors.ts";
import {
  decodeHeader,
  type Header,
  MAX_CONTROL_PAYLOAD,
  Rsv,
} from "../codec/header.ts";
import { maskDown, maskInPlace } from "../codec/mask.ts";
import { type DataOpCode, isControl, OpCode } from "../codec/opcode.ts";
import { Utf8Validator } from "../codec/utf8.ts";
import { simdMemory } from "../codec/simd_mask.ts";
import type { FrameReader } from "../io/frame_reader.ts";
import { HEADROOM } from "../io/frame_writer.ts";
import type { Frame, Message } from "./websocket_conn.ts";

/** An internal message buffer larger than this is not kept for small messages. */
const RETAINED_BUFFER_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);
/**
 * A read goes straight into the message buffer, frames and all, when this much
 * of it is free, or after a message this large (`#straightReadAt`)...
 */
const STRAIGHT_READ_MIN = 64 * 1024;
/** ...and takes this much at most (what it brings past the message goes back). */
const STRAIGHT_READ_MAX = 2 << 20;

/** Answers control frames: the connection's write half. */
export interface ControlHandler {
  /** Acts on a complete control frame; returns a promise when that takes time. */
  onControl(h: Header, payload: Uint8Array): Promise<void> | undefined;
}

/** Where read failures go: the connection's closing handshake. */
export interface ReadFailures {
  /** Turns a read failure into the error the read rejects with. */
  readFailed(err: unknown): Promise<Error>;
}

/** Where replies gather: the connection's frame writer. */
export interface ReplyBatch {
  /**
   * The message buffer is now `buffer` (or none): the `HEADROOM` bytes before
   * it are the writer's, to frame a reply of the whole buffer's bytes in place.
   */
  lendHeadroom(buffer: Uint8Array | null): void;
  /** More input is buffered after a message: replies may wait for the next ones. */
  hold(): void;
  /** The next read must wait for the transport: held replies should go now. */
  release(): void;
}

/** The limits a reader applies, with the chunk size its buffer grows from. */
export interface ReadLimits extends FrameLimits {
  readonly chunkSize: number;
}

/**
 * Reads frames into messages. One message object and, where it can, one payload
 * view are reused: a read that completes from buffered bytes allocates nothing.
 */
export class MessageReader implements FrameState {
  /** Whether a read is in progress. */
  reading = false;
  /** The `onReadFrame` hook, when the connection has one. */
  onFrame: ((header: Header, payload: Uint8Array) => void) | null = null;
  // The message being read, as the header rules track it (`checkHeader`); kept
  // here rather than in an object of their own: one object less per connection.
  inMessage = false;
  opcode = 0;
  rsv = 0;
  length = 0;
  fragments = 0;
  readonly #frames: FrameReader;
  readonly #limits: ReadLimits;
  readonly #control: ControlHandler;
  readonly #failures: ReadFailures;
  readonly #replies: ReplyBatch;
  // Made on first use, as are the callbacks and objects below that are
  // `null` at first: an idle connection holds only what its read needs.
  #utf8: Utf8Validator | null = null;
  /** Allocated on the first control frame: many connections never get one. */
  #controlPayload: Uint8Array | null = null;
  readonly #message: Message = { opcode: OpCode.Binary, data: EMPTY, rsv: 0 };
  #resolved: Promise<Message> | null = null;
  #frame: Frame | null = null;
  #resume: (() => Message | Promise<Message>) | null = null;
  #afterDirect: ((n: number) => Message | Promise<Message>) | null = null;
  #afterStraight: ((n: number) => Message | Promise<Message>) | null = null;
  #validateUtf8 = false;
  #internal: Uint8Array | null = null;
  #viewBase: Uint8Array | null = null;
  #view: Uint8Array = EMPTY;
  // The frame being read: how much is left, and where the mask stands.
  #payloadLeft = 0;
  #inFrame = false;
  /** The frame is gathered whole in the read buffer, to be returned in place. */
  #whole = false;
  #phase = 0;
  // The message being read: where it goes and how far it got.
  #target: Uint8Array | undefined;
  #dest: Uint8Array = EMPTY;
  #filled = 0;

  constructor(
    frames: FrameReader,
    limits: ReadLimits,
    parts: {
      control: ControlHandler;
      failures: ReadFailures;
      replies: ReplyBatch;
    },
  ) {
    this.#frames = frames;
    this.#limits = limits;
    this.#control = parts.control;
    this.#failures = parts.failures;
    this.#replies = parts.replies;
  }

  /** The frame a low-level read returns (reused). */
  get frame(): Frame {
    return this.#frame ??= { header: this.#frames.header, payload: EMPTY };
  }

  /** Starts a read: refuses a second one beside it. */
  begin(): void {
    if (this.reading) {
      throw new TypeError("Cannot read: another read is in progress");
    }
    this.reading = true;
  }

  /** Reads one whole message into `target` (or an internal buffer), after `begin()`. */
  readMessage(target: Uint8Array | undefined): Promise<Message> {
    this.#target = target;
    const step = this.#run();
    // The message object is reused, so one resolved promise serves every read
    // that completes from buffered bytes.
    if (step !== this.#message) return step as Promise<Message>;
    return this.#resolved ??= Promise.resolve(this.#message);
  }

  /** Reads and checks the next header, skipping a payload left unread, after `begin()`. */
  async readHeader(): Promise<Header> {
    const frames = this.#frames;
    await this.skipUnread();
    let size = frames.tryHeader();
    if (size === 0) size = await frames.readHeader();
    return this.#accept(size);
  }

  /** Whether no message or frame is under way: the next byte starts a frame. */
  get atBoundary(): boolean {
    return !this.inMessage && !this.#inFrame && this.#payloadLeft === 0;
  }

  /** Skips what a low-level `readHeader()` left unread of its frame's payload. */
  async skipUnread(): Promise<void> {
    if (this.#payloadLeft > 0) {
      await this.#frames.skip(this.#payloadLeft);
      this.#payloadLeft = 0;
    }
  }

  /**
   * Reads the next piece of the current frame's payload into `buf`, unmasked,
   * after `begin()`.
   *
   * @returns The bytes placed at the start of `buf`, or `null` when the payload
   * has been read whole.
   */
  async readPayloadPart(buf: Uint8Array): Promise<number | null> {
    if (this.#payloadLeft === 0) return null;
    const n = await this.#frames.readPart(
      buf,
      0,
      Math.min(buf.length, this.#payloadLeft),
    );
    this.#consume(buf, 0, n, false);
    return n;
  }

  /** Reads the current frame's whole payload into `buf`, unmasked, after `begin()`. */
  async readPayload(buf: Uint8Array): Promise<Uint8Array> {
    const length = this.#payloadLeft;
    if (length > buf.length) {
      throw new WebSocketError(
        "buffer_too_small",
        `Cannot read a ${length}-byte payload into a ${buf.length}-byte buffer`,
      );
    }
    let at = 0;
    while (this.#payloadLeft > 0) {
      const n = await this.#frames.readPart(buf, at, this.#payloadLeft);
      this.#consume(buf, at, n, false);
      at += n;
    }
    return this.#viewOf(buf, length);
  }

  /**
   * Reads as far as the buffered bytes go, then reads the transport and resumes:
   * the message when complete, or a promise of it.
   */
  #run(): Message | Promise<Message> {
    let step: Message | null | Promise<Message>;
    try {
      step = this.#advance();
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#settle(step);
  }

  /** Ends the read with the message, or goes on: reading more, or waiting. */
  #settle(step: Message | null | Promise<Message>): Message | Promise<Message> {
    if (step === null) return this.#readMore();
    if (step === this.#message) {
      this.reading = false;
      if (this.#frames.buffered > 0) this.#replies.hold();
    }
    return step;
  }

  #readMore(): Promise<Message> {
    const frames = this.#frames;
    // After a read that filled the buffer the next one is likely served at once:
    // replies keep gathering across it (the writer releases them by the next
    // macrotask regardless).
    if (!frames.filled) this.#replies.release();
    const at = this.#straightReadAt();
    if (at >= 0) return this.#readStraight(at);
    if (
      this.#inFrame && !this.#whole && this.#payloadLeft >= frames.capacity &&
      frames.buffered === 0 && frames.direct && !isControl(frames.header.opcode)
    ) {
      return this.#readDirect();
    }
    return frames.fill().then(this.#afterFill, this.#rejectRead);
  }

  /**
   * Where the next read can go straight into the internal message buffer,
   * frames and all, with nothing buffered: at `#filled` within a data message
   * gathered there that has room left, at 0 for the next message after a large
   * one (a peer streaming large messages); else -1.
   */
  #straightReadAt(): number {
    const frames = this.#frames;
    if (
      this.#target !== undefined || this.#whole || frames.buffered > 0 ||
      !frames.direct || this.#dest !== this.#internal
    ) return -1;
    const room = this.#dest.length - this.#filled >= STRAIGHT_READ_MIN;
    if (this.#inFrame) {
      return room && !isControl(frames.header.opcode) ? this.#filled : -1;
    }
    if (this.#payloadLeft > 0) return -1;
    if (this.inMessage) return room ? this.#filled : -1;
    return this.#filled >= STRAIGHT_READ_MIN ? 0 : -1;
  }

  // The callbacks below are bound apart from the functions that run per
  // message: a closure there, even in a branch not taken, makes every call
  // allocate a context until the optimizing compiler removes it.

  /** Reads the rest of a large payload straight into the message buffer. */
  #readDirect(): Promise<Message> {
    return this.#frames.readDirect(this.#dest, this.#filled, this.#payloadLeft)
      .then(
        this.#afterDirect ??= (n) => this.#directRead(n),
        this.#rejectRead,
      );
  }

  /**
   * Reads what comes next straight into the message buffer at `at`
   * (`#compactTail`); the read buffer meanwhile goes back to the pool.
   */
  #readStraight(at: number): Promise<Message> {
    const frames = this.#frames;
    frames.rest();
    // Within the final frame, no further than its end: nothing to give back.
    const last = this.#inFrame && frames.header.fin;
    const room = last ? this.#payloadLeft : this.#dest.length - at;
    const n = Math.min(room, STRAIGHT_READ_MAX);
    return frames.readDirect(this.#dest, at, n).then(
      this.#afterStraight ??= (n) => this.#straightRead(n),
      this.#rejectRead,
    );
  }

  #straightRead(n: number): Message | Promise<Message> {
    let step: Message | null | Promise<Message>;
    try {
      const complete = this.#inFrame || this.inMessage
        ? this.#compactTail(this.#filled, this.#filled + n)
        : this.#compactHead(n);
      step = complete ? this.#complete() : this.#advance();
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#settle(step);
  }

  /** Resumes reading once a control frame's asynchronous work is done. */
  #resumeAfter(pending: Promise<void>): Promise<Message> {
    return pending.then(this.#resume ??= () => this.#run(), this.#rejectRead);
  }

  #afterFill = (n: number | null): Message | Promise<Message> => {
    try {
      this.#frames.commit(n);
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#run();
  };

  #directRead(n: number): Message | Promise<Message> {
    try {
      this.#took(n);
    } catch (err) {
      return this.#rejectRead(err);
    }
    return this.#run();
  }

  #rejectRead = (err: unknown): Promise<never> => {
    this.#frames.settle();
    return this.#failures.readFailed(err).then((error) => {
      this.reading = false;
      throw error;
    });
  };

  /**
   * Consumes buffered bytes: headers, payload pieces, control frames.
   *
   * @returns The message when complete, `null` when more bytes are needed, or a
   * promise when a control frame needs asynchronous work (which then resumes).
   */
  #advance(): Message | null | Promise<Message> {
    const frames = this.#frames;
    for (;;) {
      if (!this.#inFrame) {
        if (this.#payloadLeft > 0) {
          // Payload a low-level readHeader() left unread.
          this.#payloadLeft -= frames.skipBuffered(this.#payloadLeft);
          if (this.#payloadLeft > 0) return null;
        }
        const size = frames.tryHeader();
        if (size === 0) return null;
        const h = this.#accept(size);
        this.#inFrame = true;
        if (!isControl(h.opcode)) this.#startFrame(h);
      }
      const h = frames.header;
      if (this.#whole) return this.#readWhole(h);
      if (isControl(h.opcode)) {
        const pending = this.#readControl(h);
        if (pending === null) return null;
        if (pending !== undefined) return this.#resumeAfter(pending);
        continue;
      }
      if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, frames.buffered);
        if (n > 0) this.#copyIn(n);
        if (this.#payloadLeft > 0) return null;
      }
      this.#frameDone(h);
      if (h.fin) return this.#complete();
    }
  }

  /** Ends a data frame gathered in `#dest`, telling the `onReadFrame` hook. */
  #frameDone(h: Header): void {
    this.#inFrame = false;
    if (this.onFrame !== null) {
      this.onFrame(
        h,
        this.#dest.subarray(this.#filled - h.length, this.#filled),
      );
    }
  }

  /** The message gathered in `#dest`, now complete. */
  #complete(): Message {
    if (this.#validateUtf8 && !this.#utf8!.complete) throw invalidUtf8();
    const msg = this.#deliver(this.#viewOf(this.#dest, this.#filled));
    if (this.fragments > 1) this.#releaseLarge(this.#filled);
    return msg;
  }

  /**
   * Takes the frames a read placed at `dest[filled..end)`, headers and all:
   * each payload is unmasked down to where the message has got to, which
   * closes the gaps the headers leave (one pass, no copy out of a read
   * buffer). Anything else (a control frame, a header cut short, a frame the
   * buffer cannot hold, what follows the message) goes back to the read buffer
   * for the usual path, which also reports any fault.
   *
   * @returns Whether the message is complete.
   */
  #compactTail(at: number, end: number): boolean {
    const dest = this.#dest;
    const h = this.#frames.header;
    for (;;) {
      if (this.#inFrame) {
        const n = Math.min(this.#payloadLeft, end - at);
        this.#moveDown(at, n);
        at += n;
        if (this.#payloadLeft > 0) return false;
        this.#frameDone(h);
        if (h.fin) return this.#giveBack(at, end, true);
      }
      if (at === end) return false;
      const size = decodeHeader(dest, at, end, h);
      if (
        size <= 0 || h.opcode !== OpCode.Continuation ||
        this.#filled + h.length > dest.length
      ) return this.#giveBack(at, end, false);
      this.#accept(size);
      this.#inFrame = true;
      at += size;
    }
  }

  /**
   * Takes a message's start that a read placed at `dest[0..end)`: its first
   * frame, if it is one to gather in this buffer, then the rest as
   * `#compactTail` does. Anything else goes back to the read buffer.
   *
   * @returns Whether the message is complete.
   */
  #compactHead(end: number): boolean {
    const dest = this.#dest;
    const h = this.#frames.header;
    const size = decodeHeader(dest, 0, end, h);
    if (
      size <= 0 || isControl(h.opcode) || h.opcode === OpCode.Continuation ||
      h.length > dest.length || (h.fin && h.length < dest.length / 4)
    ) return this.#giveBack(0, end, false);
    this.#accept(size);
    this.#beginMessage(h);
    this.#inFrame = true;
    return this.#compactTail(size, end);
  }

  /** Hands `dest[at..end)` back to the read buffer; returns `complete`. */
  #giveBack(at: number, end: number, complete: boolean): boolean {
    if (at < end) this.#frames.restore(this.#dest, at, end);
    return complete;
  }

  /**
   * Takes `n` payload bytes read to `dest[at..]`: unmasked down to
   * `dest[filled..]`, and checked as UTF-8 for text.
   */
  #moveDown(at: number, n: number): void {
    const dest = this.#dest;
    const to = this.#filled;
    const h = this.#frames.header;
    if (h.masked) {
      this.#phase = maskDown(dest, at, to, n, h.mask, this.#phase);
    } else if (at !== to) {
      dest.copyWithin(to, at, at + n);
    }
    if (this.#validateUtf8 && !this.#utf8!.push(dest, to, to + n)) {
      throw invalidUtf8();
    }
    this.#payloadLeft -= n;
    this.#filled = to + n;
  }

  /**
   * Gathers a control frame's payload and hands it to the control handler.
   *
   * @returns `null` while bytes are missing, else what the handler returned.
   */
  #readControl(h: Header): Promise<void> | undefined | null {
    const at = h.length - this.#payloadLeft;
    const payload = this.#controlPayload ??= new Uint8Array(
      MAX_CONTROL_PAYLOAD,
    );
    const n = this.#frames.copyAvailable(payload, at, this.#payloadLeft);
    this.#consume(payload, at, n, false);
    if (this.#payloadLeft > 0) return null;
    this.#inFrame = false;
    const body = payload.subarray(0, h.length);
    if (this.onFrame !== null) this.onFrame(h, body);
    return this.#control.onControl(h, body);
  }

  /**
   * Prepares the destination for a data frame's payload: the read buffer itself
   * (`#whole`) for an unfragmented frame that fits it, else a message buffer.
   */
  #startFrame(h: Header): void {
    this.#whole = false;
    if (h.opcode !== OpCode.Continuation) {
      if (h.fin) this.#releaseLarge(h.length);
      this.#beginMessage(h);
      if (
        this.#target === undefined && h.fin &&
        this.#frames.reserve(h.length, this.#limits.readLimit)
      ) {
        this.#whole = true;
        return;
      }
      this.#dest = this.#target ?? EMPTY;
    }
    const total = this.#filled + h.length;
    if (this.#target === undefined) {
      this.#dest = this.#grow(this.#filled, total);
    } else if (total > this.#dest.length) {
      throw new WebSocketError(
        "buffer_too_small",
        `Cannot read a ${total}-byte message into a ${this.#dest.length}-byte buffer`,
      );
    }
    this.#frames.widen(h.length, this.#limits.readLimit);
  }

  /** Starts a message at the front of its destination, text checked as it comes. */
  #beginMessage(h: Header): void {
    this.#filled = 0;
    this.#validateUtf8 = h.opcode === OpCode.Text && (h.rsv & Rsv.Rsv1) === 0;
    if (this.#validateUtf8) (this.#utf8 ??= new Utf8Validator()).reset();
  }

  /**
   * The zero-copy path: returns the frame `reserve` made room for once it is
   * all buffered in the read buffer. Bytes are unmasked and checked in place as
   * they arrive, so invalid UTF-8 fails
   * before the frame ends.
   *
   * @returns The message, or `null` while bytes are missing.
   */
  #readWhole(h: Header): Message | null {
    const frames = this.#frames;
    const done = h.length - this.#payloadLeft;
    const have = Math.min(frames.buffered, h.length);
    if (have > done) {
      const at = frames.position;
      this.#consume(frames.bytes, at + done, have - done, this.#validateUtf8);
    }
    if (have < h.length) return null;
    const inPlace = frames.takeBuffered(h.length)!;
    if (this.#validateUtf8 && !this.#utf8!.complete) throw invalidUtf8();
    this.#whole = this.#inFrame = false;
    if (this.onFrame !== null) this.onFrame(h, inPlace);
    return this.#deliver(inPlace);
  }

  /**
   * Moves `n` buffered payload bytes into the message, unmasked in the read
   * buffer first: that is where SIMD masking applies (`simd_mask.ts`).
   */
  #copyIn(n: number): void {
    const frames = this.#frames;
    this.#consume(frames.bytes, frames.position, n, this.#validateUtf8);
    frames.copyAvailable(this.#dest, this.#filled, n);
    this.#filled += n;
  }

  /** Accounts for `n` payload bytes just placed at `dest[filled..]`. */
  #took(n: number): void {
    this.#consume(this.#dest, this.#filled, n, this.#validateUtf8);
    this.#filled += n;
  }

  /**
   * Takes `n` payload bytes of the current frame placed at `buf[at..]`: unmasks
   * them and, for text, checks them as UTF-8 as they arrive.
   */
  #consume(buf: Uint8Array, at: number, n: number, text: boolean): void {
    const h = this.#frames.header;
    if (h.masked) {
      this.#phase = maskInPlace(buf, h.mask, this.#phase, at, at + n);
    }
    if (text && !this.#utf8!.push(buf, at, at + n)) throw invalidUtf8();
    this.#payloadLeft -= n;
  }

  #accept(size: number): Header {
    if (size < 0) {
      throw new WebSocketError(
        "invalid_length",
        "Frame length has the most significant bit set",
      );
    }
    const h = this.#frames.header;
    const fault = checkHeader(h, this, this.#limits);
    if (fault !== null) {
      throw new WebSocketError(fault, describeFault(fault, h, this.#limits));
    }
    this.#payloadLeft = h.length;
    this.#phase = 0;
    return h;
  }

  #deliver(data: Uint8Array): Message {
    const msg = this.#message;
    msg.opcode = this.opcode as DataOpCode;
    msg.rsv = this.rsv;
    msg.data = data;
    return msg;
  }

  /**
   * Lets go of an internal buffer that one large message grew once a message
   * much smaller than it starts (or, sent in frames, ends), so that an idle
   * connection does not keep its largest message's worth of memory. A run of
   * large messages keeps reusing it, whether each comes whole or in many small
   * frames. The message read last keeps its view of the buffer.
   *
   * @param size The new message's size (its first frame's, when final), or the
   * size of the message just read.
   */
  #releaseLarge(size: number): void {
    const buf = this.#internal;
    if (
      buf !== null && buf.length > RETAINED_BUFFER_BYTES &&
      size < buf.length / 4
    ) {
      this.#internal = this.#viewBase = null;
      this.#replies.lendHeadroom(null);
      this.#dest = this.#view = EMPTY;
    }
  }

  /** The internal message buffer, grown (keeping `filled` bytes) to hold `total`. */
  #grow(filled: number, total: number): Uint8Array {
    let buf = this.#internal;
    if (buf === null || buf.length < total) {
      const size = Math.min(
        this.#limits.readLimit,
        Math.max(total, this.#limits.chunkSize, 2 * (buf?.length ?? 0)),
      );
      const next = messageBuffer(size);
      if (buf !== null && filled > 0) next.set(buf.subarray(0, filled));
      this.#internal = buf = next;
      this.#replies.lendHeadroom(next);
    }
    return buf;
  }

  /** A view of `buf[0..length)`, reused while the buffer and length repeat. */
  #viewOf(buf: Uint8Array, length: number): Uint8Array {
    if (length === buf.length) return buf;
    if (this.#viewBase !== buf || this.#view.length !== length) {
      this.#viewBase = buf;
      this.#view = buf.subarray(0, length);
    }
    return this.#view;
  }
}

/**
 * Where a message buffer's bytes start in its memory: one cache line in, the
 * `HEADROOM` before them included. Measured on 1 MiB echoes, payloads that
 * started 16 bytes into the memory cost about 1.25x the server CPU of those
 * one line in, whole or in 4 KiB frames (the reason is not known).
 */
const MESSAGE_OFFSET = Math.max(64, HEADROOM);

/**
 * A message buffer with `HEADROOM` bytes before it, where a reply of the same
 * bytes gets its header (no copy, one write); a large one from SIMD memory,
 * where unmasking is four times faster.
 */
function messageBuffer(size: number): Uint8Array {
  const total = size + MESSAGE_OFFSET;
  const memory = size > RETAINED_BUFFER_BYTES ? simdMemory(total) : null;
  const bytes = memory?.bytes ?? new Uint8Array(total);
  // All of a memory's pages: the frame headers of a message read straight in
  // (`#compactTail`) take room past its size.
  return bytes.subarray(MESSAGE_OFFSET);
}

function invalidUtf8(): WebSocketError {
  return new WebSocketError("invalid_utf8", "Text message is not valid UTF-8");
}
