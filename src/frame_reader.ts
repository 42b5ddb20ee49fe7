/**
 * Buffered frame reading over a {@linkcode ByteSource}.
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import { decodeHeader, type Header, newHeader } from "./header.ts";
import type { ByteSource } from "./transport.ts";

/** Copies below this size use a byte loop: cheaper than allocating a view. */
const VIEWLESS_COPY_BELOW = 512;

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
  /** How many transport reads completed: progress, for idle detection. */
  reads = 0;

  /**
   * Starts reading, with `head` as bytes that were read before (the handshake's
   * leftovers).
   */
  constructor(source: ByteSource, head?: Uint8Array) {
    this.#source = source;
    if (head !== undefined && head.length > 0) {
      if (head.length > source.buffer.length) {
        source.buffer = new Uint8Array(head.length);
      }
      source.buffer.set(head);
      this.#end = head.length;
    }
  }

  /** The bytes buffered but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#pos;
  }

  /** The read buffer's capacity. */
  get capacity(): number {
    return this.#source.buffer.length;
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
    const start = this.#pos;
    this.#pos += length;
    return this.#source.buffer.subarray(start, start + length);
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
    const n = Math.min(length, this.#end - this.#pos);
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
   * Copies the next `length` bytes into `dest[offset..]` if they are all buffered,
   * consuming them.
   *
   * @returns Whether the bytes were there.
   */
  copyBuffered(dest: Uint8Array, offset: number, length: number): boolean {
    if (this.#end - this.#pos < length) return false;
    const buf = this.#source.buffer;
    const from = this.#pos;
    if (length < VIEWLESS_COPY_BELOW) {
      for (let i = 0; i < length; i++) dest[offset + i] = buf[from + i];
    } else {
      dest.set(buf.subarray(from, from + length), offset);
    }
    this.#pos += length;
    return true;
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
    while (await this.#source.read(0) > 0) {
      // Discard: only the end of the stream matters.
    }
  }

  /**
   * Reads more bytes after moving the unconsumed ones (at most a partial header or
   * control frame: payloads are only read into an emptied buffer) to the front.
   */
  async #fill(): Promise<void> {
    if (this.#pos > 0) {
      if (this.#pos < this.#end) {
        this.#source.buffer.copyWithin(0, this.#pos, this.#end);
      }
      this.#end -= this.#pos;
      this.#pos = 0;
    }
    const n = await this.#source.read(this.#end);
    if (n === 0) throw closedError();
    this.reads++;
    this.#end += n;
  }
}

function closedError(): WebSocketError {
  return new WebSocketError(
    "closed",
    "Connection closed by the peer without a close frame",
  );
}
