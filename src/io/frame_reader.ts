/**
 * Buffered frame reading over a {@linkcode ByteSource}.
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import {
  decodeHeader,
  type Header,
  MAX_HEADER_BYTES,
  newHeader,
} from "../codec/header.ts";
import { giveBuffer, pooledSize, takeBuffer } from "./buffer_pool.ts";
import type { ByteSource } from "./transport.ts";

/** Copies below this size use a byte loop: cheaper than allocating a view. */
const VIEWLESS_COPY_BELOW = 2048;
/**
 * The read buffer a connection starts with and waits in when idle: any header
 * and small messages fit. A read that fills it takes a whole chunk from the pool
 * for the burst, so a connection that stays idle (or only ever gets small
 * messages) never holds a chunk.
 */
const INITIAL_BUFFER = 128;
/** After a read this small, with nothing left over, the chunk goes back to the pool. */
const QUIET_READ = INITIAL_BUFFER / 2;
/**
 * Grown read buffers that the process's pending reads may hold, at most (64
 * burst buffers, or 2,048 chunks of 4 KiB): past it a read waits in its
 * connection's small buffer.
 */
const WAITING_BYTES = 8 << 20;
let waitingBytes = 0;
const EMPTY = new Uint8Array(0);
/**
 * Data frames up to this payload size are gathered whole in the read buffer
 * (grown for them) and returned in place: one transport read then brings
 * several, where reading each into a message buffer of its own costs two.
 */
export const IN_PLACE_MAX = 64 * 1024;
/** The read buffer a burst of large frames grows to, at most. */
const BURST_BUFFER = 128 * 1024;
/** Frames a burst buffer is sized for: a few pipelined messages per read. */
const BURST_FRAMES = 4;

/**
 * Reads frame headers and payloads from one preallocated buffer, several frames per
 * transport read when they arrived together.
 *
 * The buffer is the {@linkcode ByteSource}'s, which a BYOB read replaces: every method
 * re-reads `source.buffer` after awaiting.
 */
export class FrameReader {
  /** The header of the last frame read (reused). */
  readonly header: Header = newHeader();
  #source: ByteSource;
  #pos = 0;
  #end = 0;
  #view: Uint8Array = EMPTY;
  /** The size the read buffer grows to: the source's buffer size at the start. */
  #max: number;
  /** The connection's own small buffer; a chunk-sized one is pooled (direct reads). */
  #small: Uint8Array;
  #lastRead = 0;
  /** A frame `reserve` made room for is still coming: keep the buffer. */
  #reserved = false;
  /** The bytes of a grown buffer the pending read counts in `waitingBytes`. */
  #waiting = 0;
  /** How many transport reads completed: progress, for idle detection. */
  reads = 0;
  /** Whether the last read filled the buffer: more input is probably waiting. */
  filled = false;

  /**
   * Starts reading, with `head` as bytes that were read before (the handshake's
   * leftovers). The source's buffer is replaced by one of at most `INITIAL_BUFFER`
   * bytes (or the head's size), which grows up to `max` when a read fills it.
   */
  constructor(source: ByteSource, max: number, head?: Uint8Array) {
    this.#source = source;
    this.#max = max;
    const start = Math.max(Math.min(max, INITIAL_BUFFER), head?.length ?? 0);
    if (source.buffer.length !== start) source.buffer = new Uint8Array(start);
    this.#small = source.buffer;
    if (head !== undefined && head.length > 0) {
      source.buffer.set(head);
      this.#end = head.length;
    }
  }

  /** The bytes buffered but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#pos;
  }

  /** The read buffer, valid until the next read (which may replace it). */
  get bytes(): Uint8Array {
    return this.#source.buffer;
  }

  /** Where the unconsumed bytes start in `bytes`. */
  get position(): number {
    return this.#pos;
  }

  /** The read buffer's capacity. */
  get capacity(): number {
    return this.#source.buffer.length;
  }

  /**
   * Makes sure the next `length` bytes (a frame's payload, from the read
   * position) fit the read buffer, growing it from the pool for a burst of
   * frames that size, to at most `cap` bytes. Only in direct mode: a BYOB read
   * transfers its buffer, which could then not go back to the pool. The room
   * stays until `takeBuffered` takes the frame.
   *
   * @param length The payload's size.
   * @param cap The largest buffer allowed (the read limit, say).
   * @returns Whether they fit: `false` when larger than `IN_PLACE_MAX` or
   * `cap`, or when the source reads through a stream.
   */
  reserve(length: number, cap: number = BURST_BUFFER): boolean {
    const source = this.#source;
    const buf = source.buffer;
    if (length <= buf.length - this.#pos) return this.#reserved = true;
    const limit = Math.min(cap, BURST_BUFFER);
    if (length > IN_PLACE_MAX || length > limit || !source.direct) return false;
    this.#reserved = true;
    if (length > buf.length) {
      // Room for a few frames this size when more input waits (a burst).
      const frames = this.filled ? BURST_FRAMES : 1;
      const want = pooledSize(frames * (MAX_HEADER_BYTES + length));
      this.#moveTo(takeBuffer(Math.max(length, Math.min(want, limit)), true));
    }
    return true;
  }

  /** Moves the unconsumed bytes to the front of `grown`, the new read buffer. */
  #moveTo(grown: Uint8Array): void {
    const buf = this.#source.buffer;
    grown.set(buf.subarray(this.#pos, this.#end));
    this.#end -= this.#pos;
    this.#pos = 0;
    this.#source.buffer = grown;
    this.#view = EMPTY;
    if (buf !== this.#small) giveBuffer(buf);
  }

  /**
   * Grows the read buffer from the pool to a burst buffer (at most `cap`
   * bytes) when the last read filled it and the current frame's payload goes on
   * past the buffered bytes: a message sent in many frames (a gorilla/websocket
   * client sends one per 4 KiB) then takes a few transport reads, not one per
   * chunk. Its payload is still copied out; only the reads get fewer. Only in
   * direct mode, as `reserve`.
   *
   * @param payloadLeft The current frame's payload bytes not yet consumed.
   * @param cap The largest buffer allowed (the read limit, say).
   */
  widen(payloadLeft: number, cap: number): void {
    const source = this.#source;
    const buf = source.buffer;
    const size = Math.min(cap, BURST_BUFFER);
    if (
      !this.filled || !source.direct || buf.length >= size ||
      payloadLeft <= this.#end - this.#pos
    ) return;
    this.#moveTo(takeBuffer(size, true));
  }

  /**
   * Gives a grown read buffer back to the pool while nothing is buffered, as
   * the next read goes elsewhere (straight into a message buffer).
   */
  rest(): void {
    const source = this.#source;
    const buf = source.buffer;
    if (buf === this.#small || this.#end > this.#pos || this.#reserved) return;
    this.#pos = this.#end = 0;
    source.buffer = this.#small;
    this.#view = EMPTY;
    if (source.direct) giveBuffer(buf);
  }

  /**
   * Makes `from[start..end)` the bytes to consume next: what a read straight
   * into a message buffer brought past the frames its caller took there. Only
   * when nothing is buffered; the read buffer grows from the pool to hold them.
   */
  restore(from: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#pos = this.#end = 0;
    if (n > this.#source.buffer.length) {
      this.#moveTo(takeBuffer(pooledSize(n), this.#source.direct));
    }
    this.#source.buffer.set(from.subarray(start, end));
    this.#end = n;
  }

  /**
   * Decodes the next header if it is already buffered.
   *
   * @returns The header size, 0 when more bytes are needed, -1 for a bad length.
   */
  tryHeader(): number {
    const size = decodeHeader(
      this.#source.buffer,
      this.#pos,
      this.#end,
      this.header,
    );
    if (size > 0) this.#pos += size;
    return size;
  }

  /**
   * Reads from the transport until the next header is complete, then decodes it.
   *
   * @returns The header size, or -1 for a bad length.
   */
  async readHeader(): Promise<number> {
    for (;;) {
      const size = this.tryHeader();
      if (size !== 0) return size;
      await this.#fill();
    }
  }

  /**
   * Returns a view of the next `length` bytes of the read buffer if they are all
   * buffered, consuming them: the zero-copy path for small frames. The view is
   * valid until the next read.
   */
  takeBuffered(length: number): Uint8Array | null {
    if (this.#end - this.#pos < length) return null;
    this.#reserved = false;
    const start = this.#pos;
    this.#pos += length;
    // One message at a time lands at the same place: reuse the last view then.
    const last = this.#view;
    const buffer = this.#source.buffer;
    if (
      last.byteOffset === buffer.byteOffset + start &&
      last.length === length && last.buffer === buffer.buffer
    ) {
      return last;
    }
    return this.#view = buffer.subarray(start, start + length);
  }

  /**
   * Copies up to `length` payload bytes into `dest[offset..]`, reading from the
   * transport when nothing is buffered. Large remainders are read straight into
   * `dest` when the transport allows it (no copy).
   *
   * @returns The number of bytes copied (at least 1 when `length` > 0).
   */
  async readPart(
    dest: Uint8Array,
    offset: number,
    length: number,
  ): Promise<number> {
    if (length === 0) return 0;
    if (this.#end === this.#pos) {
      if (length >= this.capacity && this.#source.direct) {
        const n = await this.#source.readInto(
          dest.subarray(offset, offset + length),
        );
        if (n === 0) throw closedError();
        this.reads++;
        return n;
      }
      await this.#fill();
    }
    return this.copyAvailable(dest, offset, length);
  }

  /** Discards `length` payload bytes. */
  async skip(length: number): Promise<void> {
    while (length > 0) {
      if (this.#end === this.#pos) await this.#fill();
      const n = Math.min(length, this.#end - this.#pos);
      this.#pos += n;
      length -= n;
    }
  }

  /** Reads until the transport ends, discarding everything. */
  async drain(): Promise<void> {
    this.#pos = this.#end = 0;
    while (((await this.#source.read(0)) ?? 0) > 0) {
      // Discard: only the end of the stream matters.
    }
  }

  /**
   * Reads more bytes after moving the unconsumed ones (a partial header or
   * control frame, or a partial frame that `reserve` made room for) to the front.
   */
  fill(): Promise<number | null> {
    if (this.#pos > 0) {
      if (this.#pos < this.#end) {
        this.#source.buffer.copyWithin(0, this.#pos, this.#end);
      }
      this.#end -= this.#pos;
      this.#pos = 0;
    }
    if (this.#end === 0) this.#beforeWait();
    return this.#source.read(this.#end);
  }

  /**
   * Picks the buffer a read with nothing left over waits in. A grown buffer is
   * kept while the last read was not tiny (the peer is streaming: the next read
   * takes a whole burst at once) and the process's waiting reads hold less than
   * `WAITING_BYTES` of grown buffers; otherwise the read waits in the small
   * buffer, so that idle connections hold no chunk of their own.
   */
  #beforeWait(): void {
    const source = this.#source;
    const buf = source.buffer;
    if (buf === this.#small || !source.direct || this.#reserved) return;
    if (
      this.#lastRead > QUIET_READ &&
      waitingBytes + buf.length <= WAITING_BYTES
    ) {
      waitingBytes += this.#waiting = buf.length;
      return;
    }
    source.buffer = this.#small;
    this.#view = EMPTY;
    giveBuffer(buf);
  }

  /** Ends the current read's claim on the waiting budget (idempotent). */
  settle(): void {
    waitingBytes -= this.#waiting;
    this.#waiting = 0;
  }

  /**
   * Accounts for the bytes a `fill()` read.
   *
   * @param n What the read resolved with.
   * @throws {WebSocketError} With code `closed` when the stream ended.
   */
  commit(n: number | null): void {
    this.settle();
    if (!n) throw closedError();
    this.reads++;
    this.#lastRead = n;
    this.#end += n;
    const buf = this.#source.buffer;
    this.filled = this.#end === buf.length;
    if (this.filled && buf.length < this.#max) {
      // A full buffer: more is coming, so take a whole chunk for the burst
      // (pooled in direct mode: a BYOB read transfers its buffer).
      const grown = this.#source.direct
        ? takeBuffer(this.#max, true)
        : new Uint8Array(this.#max);
      grown.set(buf.subarray(0, this.#end));
      this.#source.buffer = grown;
    }
  }

  async #fill(): Promise<void> {
    let n: number | null;
    try {
      n = await this.fill();
    } catch (err) {
      this.settle();
      throw err;
    }
    this.commit(n);
  }

  /**
   * Copies up to `max` buffered bytes into `dest[offset..]`, consuming them.
   *
   * @returns How many bytes were copied (0 when nothing is buffered).
   */
  copyAvailable(dest: Uint8Array, offset: number, max: number): number {
    const n = Math.min(max, this.#end - this.#pos);
    if (n === 0) return 0;
    const buf = this.#source.buffer;
    const from = this.#pos;
    if (n < VIEWLESS_COPY_BELOW) {
      for (let i = 0; i < n; i++) dest[offset + i] = buf[from + i];
    } else {
      dest.set(buf.subarray(from, from + n), offset);
    }
    this.#pos += n;
    return n;
  }

  /**
   * Discards up to `max` buffered bytes.
   *
   * @returns How many were discarded.
   */
  skipBuffered(max: number): number {
    const n = Math.min(max, this.#end - this.#pos);
    this.#pos += n;
    return n;
  }

  /**
   * Reads straight into `dest[offset..offset+length)` when the transport allows it
   * without detaching `dest` (direct mode) and nothing is buffered.
   *
   * @returns The bytes read, or -1 when a buffered read must be used instead.
   */
  readDirect(
    dest: Uint8Array,
    offset: number,
    length: number,
  ): Promise<number> {
    return this.#source.readInto(dest.subarray(offset, offset + length)).then(
      this.#directDone ??= (n) => this.#countDirect(n),
    );
  }

  /** Bound on the first direct read: most connections never make one. */
  #directDone: ((n: number) => number) | null = null;

  #countDirect(n: number): number {
    if (n === 0) throw closedError();
    if (n > 0) this.reads++;
    return n;
  }

  /** Whether payloads can be read straight into a caller's buffer. */
  get direct(): boolean {
    return this.#source.direct;
  }
}

function closedError(): WebSocketError {
  return new WebSocketError(
    "closed",
    "Connection closed by the peer without a close frame",
  );
}
