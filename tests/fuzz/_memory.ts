/**
 * In-memory transports that replay a byte stream in given chunks and record
 * what the connection writes: a `Deno.Conn`-like one (direct reads, short
 * writes) and stream pairs (BYOB byte streams, plain streams).
 *
 * @module
 */

import type { Transport } from "../../mod.ts";
import { concat } from "../_wire.ts";

/** What a memory transport observed. */
export interface Observed {
  /** Everything the connection wrote. */
  written(): Uint8Array;
  /** Whether the connection closed (or cancelled) the transport. */
  readonly closed: boolean;
  /** The largest read the connection asked for, in bytes (direct mode). */
  readonly largestRead: number;
}

/**
 * A `Deno.Conn` look-alike: `read()` hands out the chunks in order (then the end,
 * or nothing until closed when `hang`), `write()` may take fewer bytes than given.
 */
export class MemoryConn implements Transport, Observed {
  #chunks: Uint8Array[];
  #index = 0;
  #offset = 0;
  #out: Uint8Array[] = [];
  #shortWrites: number[];
  #hang: boolean;
  #pending: ((err: Error) => void) | null = null;
  closed = false;
  largestRead = 0;
  /** The size of every read the connection asked for, in order. */
  readonly reads: number[] = [];

  /**
   * @param chunks What reads return, in order.
   * @param shortWrites Byte counts that successive writes take at most (cycled).
   * @param hang Never end the stream: reads wait until the transport is closed.
   */
  constructor(chunks: Uint8Array[], shortWrites: number[] = [], hang = false) {
    this.#chunks = chunks.filter((c) => c.length > 0);
    this.#shortWrites = shortWrites;
    this.#hang = hang;
  }

  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream();
  }

  get writable(): WritableStream<Uint8Array> {
    return new WritableStream();
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    this.largestRead = Math.max(this.largestRead, p.length);
    this.reads.push(p.length);
    const chunk = this.#chunks[this.#index];
    if (chunk === undefined) {
      if (!this.#hang) return Promise.resolve(null);
      return new Promise((_, reject) => this.#pending = reject);
    }
    const n = Math.min(p.length, chunk.length - this.#offset);
    p.set(chunk.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    if (this.#offset === chunk.length) {
      this.#index++;
      this.#offset = 0;
    }
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    const cap = this.#shortWrites.length > 0
      ? this.#shortWrites[this.#out.length % this.#shortWrites.length]
      : p.length;
    const n = Math.max(1, Math.min(cap, p.length));
    this.#out.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("closed");
    this.closed = true;
    this.#pending?.(new Deno.errors.Interrupted("closed"));
  }

  written(): Uint8Array {
    return concat(...this.#out);
  }
}

/**
 * A stream pair: a byte stream (BYOB reads) or a plain one that enqueues the
 * chunks as they are pulled, and a writable stream that records.
 */
export class MemoryStreams implements Transport, Observed {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #out: Uint8Array[] = [];
  closed = false;
  largestRead = 0;

  /**
   * @param chunks What the readable side yields, in order.
   * @param bytes Whether the readable is a byte stream (allows BYOB reads).
   * @param hang Never end the stream.
   */
  constructor(chunks: Uint8Array[], bytes: boolean, hang = false) {
    chunks = chunks.filter((c) => c.length > 0);
    let index = 0;
    const pull = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      const chunk = chunks[index++];
      if (chunk !== undefined) return controller.enqueue(chunk.slice());
      if (hang) return new Promise<void>(() => {});
      controller.close();
      // A pending BYOB read settles (done) only once its request is answered.
      (controller as unknown as ReadableByteStreamController).byobRequest
        ?.respond(0);
    };
    const cancel = () => {};
    this.readable = bytes
      ? new ReadableStream({
        type: "bytes",
        pull: pull as unknown as (c: ReadableByteStreamController) => void,
        cancel,
      })
      : new ReadableStream({ pull, cancel });
    this.writable = new WritableStream({
      write: (chunk) => {
        this.#out.push(chunk.slice());
      },
    });
  }

  /** Records that the connection let go of the transport. */
  close(): void {
    this.closed = true;
  }

  written(): Uint8Array {
    return concat(...this.#out);
  }
}
