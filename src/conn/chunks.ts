/**
 * What every connection's writes share: argument checks, and cutting a stream
 * into fragments with one of lookahead.
 *
 * @module
 */

import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import type { WriteOptions } from "./deadlines.ts";

/** A byte stream to send as one message. */
export type ByteStream =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/**
 * Options of a streamed write.
 *
 * @example
 * ```ts
 * import { Rsv, type StreamOptions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: StreamOptions = { rsv: Rsv.Rsv2, signal: AbortSignal.timeout(60_000) };
 * assertEquals(options.rsv, 0x20);
 * ```
 */
export interface StreamOptions extends WriteOptions {
  /**
   * RSV bits for the message's first frame (`Rsv.Rsv2` …), for an extension the
   * caller implements: only bits the connection allows (`rsvAllowed`).
   */
  rsv?: number;
}

/** A byte stream that counts the bytes that went through it. */
export interface CountedStream extends AsyncIterable<Uint8Array> {
  /** The bytes so far. */
  readonly bytes: number;
}

/** Wraps `source` to count its bytes (for the message hooks). */
export function countBytes(source: ByteStream): CountedStream {
  const counted = {
    bytes: 0,
    async *[Symbol.asyncIterator]() {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        counted.bytes += chunk.length;
        yield chunk;
      }
    },
  };
  return counted;
}

/** Rejects an opcode that is not text or binary. */
export function checkDataOpCode(opcode: DataOpCode): void {
  if (opcode !== OpCode.Text && opcode !== OpCode.Binary) {
    throw new TypeError(`Not a data opcode: ${opcode}`);
  }
}

/** Rejects a fragment size outside 1 to the connection's chunk size. */
export function checkFragmentSize(size: number, chunkSize: number): void {
  if (!(Number.isInteger(size) && size >= 1 && size <= chunkSize)) {
    throw new RangeError(
      `Chunk size ${size} is not between 1 and the connection's ${chunkSize} bytes`,
    );
  }
}

/**
 * Cuts `source` into pieces of `size` bytes gathered in `held`, holding one back
 * so that `emit` knows which piece is the last (it may be shorter, and is empty
 * only when the whole stream was).
 */
export async function forEachFragment(
  source: ByteStream,
  held: Uint8Array,
  size: number,
  emit: (piece: Uint8Array, last: boolean) => Promise<void>,
): Promise<void> {
  let used = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    for (let at = 0; at < chunk.length;) {
      if (used === size) {
        await emit(held.subarray(0, used), false);
        used = 0;
      }
      const n = Math.min(size - used, chunk.length - at);
      held.set(chunk.subarray(at, at + n), used);
      used += n;
      at += n;
    }
  }
  await emit(held.subarray(0, used), true);
}
