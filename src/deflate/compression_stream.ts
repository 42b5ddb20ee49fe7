/**
 * The default DEFLATE engine, on the web-standard `CompressionStream` and
 * `DecompressionStream` with format `"deflate-raw"`.
 *
 * What it relies on, checked once at start-up and pinned by canary tests
 * (`tests/integration/platform_test.ts`) because the Compression Streams standard leaves
 * flushing to the implementation:
 * - Each write comes back as one chunk, sync-flushed: it ends with `00 00 ff ff`.
 *   On a runtime where that does not hold, the engine falls back to `node:zlib`.
 * - A large write (64 KiB and up) may hold part of its output back until the next
 *   write; an empty write forces it out.
 * - A write whose output is empty produces no chunk, so completion is taken from
 *   the write's promise, never from waiting for a chunk.
 * - A write's promise does not settle until the readable side is read, so a read
 *   is kept pending at all times.
 * - After a final (BFINAL) block, the decompressor rejects further input
 *   ("failed to write whole buffer"). The appended `00 00 ff ff` is written
 *   separately; where input is rejected, the connection's inflating goes on in
 *   `node:zlib`, which can start the peer's next stream with its window as
 *   preset dictionary (a `DecompressionStream` cannot).
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import {
  type Compressor,
  type CompressorOptions,
  type Decompressor,
  type DeflateEngine,
  endsWithSyncTrailer,
  SYNC_TRAILER,
} from "./compressor.ts";
import type { InflateOutput } from "./inflate_output.ts";
import { InflateWindow } from "./inflate_window.ts";
import { zlibEngine, zlibInflaterFrom } from "./zlib.ts";

const EMPTY = new Uint8Array(0);
/** The level `CompressionStream` compresses at, kept where zlib stands in. */
const STREAM_LEVEL = 6;
/** Inputs this large are always followed by an empty write (held-back output). */
const FORCE_FLUSH_BYTES = 16 * 1024;
/** DEFLATE's largest expansion: 258 bytes from a 2-bit code, ~1032:1. */
const MAX_EXPANSION = 1032;
/** Compressed input is written in slices so that one write's output stays bounded. */
const MIN_SLICE = 256;
const MAX_SLICE = 64 * 1024;

/**
 * The default engine: `CompressionStream("deflate-raw")` and
 * `DecompressionStream("deflate-raw")`, one long-lived stream per direction
 * that keeps its context (a fresh one after `reset()`). A direction without
 * context takeover (made with `noContextTakeover`: every message starts
 * afresh) runs on pooled `node:zlib` handles instead, as `zlibEngine()` does
 * there: a stream cannot be reset, and on Deno 2.9 a new `CompressionStream`
 * costs 0.1-0.9 ms (about 200 KiB of native state, freed only by GC) and a new
 * `DecompressionStream` about 60 µs, against 20 and 5 µs for the whole message
 * on a pooled handle.
 *
 * It cannot set the level (it compresses at 6, on zlib too) or limit its window
 * to fewer than 15 bits. As the default (no `engine` option), it hands a
 * connection whose own window must be smaller to `zlibEngine()`, so every valid
 * offer is accepted; given explicitly, it declines such offers. If the
 * runtime's streams do not flush every write (checked once, on first use), it
 * uses `node:zlib` throughout.
 *
 * When to choose it (Deno 2.9.6, 4 KiB JSON messages, `bench/harness/deflate_echo.ts` and
 * `bench/harness/deflate_memory.ts`): its contexts live in web-standard streams,
 * and that is its reason to be. With takeover a stream write costs a few µs more
 * than a zlib call and Deno's stream inflates 2-3x more slowly, so it makes
 * about 5,800 echo round trips per CPU-second where `zlibEngine()` makes 6,800
 * (level 6) or 23,800 (level 1), and `ws` 5,900 (varied 4 KiB messages); each
 * connection holds about 330 KiB more than an uncompressed one (the runtime's
 * compressor and inflater states, which it cannot shrink). Without takeover it
 * is the zlib engine: about +11 KiB per connection and 2.4x `ws` per
 * CPU-second. Choose `zlibEngine()` for speed with takeover, a lower level,
 * small windows, or many connections.
 *
 * @returns The engine.
 *
 * @example Compressing RFC 7692's "Hello" (§7.2.3.1)
 * ```ts
 * import { compressionStreamEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const deflater = compressionStreamEngine().compressor({ level: 6, windowBits: 15 });
 * const out = await deflater.compress(new TextEncoder().encode("Hello"));
 * assertEquals([...out], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff]);
 * deflater.close();
 * ```
 */
export function compressionStreamEngine(): DeflateEngine {
  return ENGINE;
}

/**
 * Where each message starts afresh: pooled `node:zlib` handles, since a stream
 * cannot be reset and a new one costs 60 µs (inflate) to 0.1-0.9 ms (deflate,
 * about 200 KiB of native state each, freed only by GC) on Deno 2.9.
 */
const PER_MESSAGE = zlibEngine();

const ENGINE: DeflateEngine = {
  name: "CompressionStream",
  limitsWindow: false,
  compressor: (options) =>
    options.noContextTakeover
      ? PER_MESSAGE.compressor({ ...options, level: STREAM_LEVEL })
      : new StreamCompressor(options),
  decompressor: (options) =>
    options.noContextTakeover
      ? PER_MESSAGE.decompressor(options)
      : new StreamDecompressor(options.windowBits),
  isValidUtf8: PER_MESSAGE.isValidUtf8,
};

/**
 * Tells whether this runtime's `CompressionStream` flushes every write as one
 * sync-flushed chunk, and its `DecompressionStream` inflates such chunks back;
 * the default engine checks it once and falls back to `node:zlib` otherwise.
 *
 * @returns `true` when the streams behave as the engine needs.
 *
 * @example
 * ```ts
 * import { streamsFlushEachWrite } from "./compression_stream.ts";
 * import { assert } from "@std/assert";
 *
 * assert(await streamsFlushEachWrite()); // true on Deno 2.9
 * ```
 */
export function streamsFlushEachWrite(): Promise<boolean> {
  return verdict ??= probeStreams();
}

let verdict: Promise<boolean> | undefined;
let usable: boolean | undefined;

async function probeStreams(): Promise<boolean> {
  let deflate: Pump | null = null;
  let inflate: Pump | null = null;
  try {
    deflate = new Pump(new CompressionStream("deflate-raw"));
    inflate = new Pump(new DecompressionStream("deflate-raw"));
    const hello = new TextEncoder().encode("Hello");
    for (let i = 0; i < 2; i++) {
      await deflate.write(hello);
      const packed = deflate.take();
      if (packed.length !== 1 || !endsWithSyncTrailer(packed[0])) return false;
      await inflate.write(packed[0]);
      const plain = inflate.take();
      if (plain.length !== 1 || plain[0].length !== 5 || plain[0][4] !== 0x6f) {
        return false;
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    deflate?.close();
    inflate?.close();
  }
}

async function streamsUsable(): Promise<boolean> {
  return usable ??= await streamsFlushEachWrite();
}

/**
 * A transform stream driven one write at a time, with a read always pending so
 * that writes settle; chunks are collected until taken.
 */
class Pump {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];

  constructor(stream: CompressionStream | DecompressionStream) {
    this.#writer = stream.writable.getWriter() as WritableStreamDefaultWriter<
      Uint8Array
    >;
    this.#reader = stream.readable.getReader();
    this.#pull();
  }

  #pull(): void {
    this.#reader.read().then(this.#onRead, ignore);
  }

  #onRead = (r: ReadableStreamReadResult<Uint8Array>): void => {
    if (r.done) return;
    this.#chunks.push(r.value);
    this.#pull();
  };

  /**
   * Writes one chunk. When it settles, its output (if any) has been collected:
   * the transform enqueues synchronously into the pending read, whose callback
   * runs before the write's promise settles.
   */
  write(chunk: Uint8Array): Promise<void> {
    return this.#writer.write(chunk);
  }

  /** The chunks collected so far, removed. */
  take(): Uint8Array[] {
    const out = this.#chunks;
    this.#chunks = [];
    return out;
  }

  close(): void {
    this.#writer.abort().catch(ignore);
    this.#reader.cancel().catch(ignore);
  }
}

function ignore(): void {}

class StreamCompressor implements Compressor {
  #options: CompressorOptions;
  #pump: Pump | null = null;
  #fallback: Compressor | null = null;

  constructor(options: CompressorOptions) {
    this.#options = options;
  }

  async compress(data: Uint8Array): Promise<Uint8Array> {
    if (usable === undefined) await streamsUsable();
    if (!usable) {
      this.#fallback ??= zlibEngine().compressor(this.#options);
      return this.#fallback.compress(data);
    }
    const pump = this.#pump ??= new Pump(new CompressionStream("deflate-raw"));
    await pump.write(data);
    let chunks = pump.take();
    const last = chunks[chunks.length - 1];
    if (
      data.length >= FORCE_FLUSH_BYTES || last === undefined ||
      !endsWithSyncTrailer(last)
    ) {
      await pump.write(EMPTY);
      chunks = chunks.concat(pump.take());
    }
    return chunks.length === 1 ? chunks[0] : concat(chunks);
  }

  reset(): void {
    this.#pump?.close();
    this.#pump = null;
    this.#fallback?.reset();
  }

  close(): void {
    this.reset();
    this.#fallback?.close();
  }
}

class StreamDecompressor implements Decompressor {
  #windowBits: number;
  #pump: Pump | null = null;
  #fallback: Decompressor | null = null;
  /** The peer's recent output, for a zlib inflater to go on from. */
  #window: InflateWindow;
  /** Inside a message fed in parts (its output cannot be redone). */
  #partial = false;

  constructor(windowBits: number) {
    this.#windowBits = windowBits;
    this.#window = new InflateWindow(windowBits);
  }

  async decompress(
    data: Uint8Array,
    fin: boolean,
    out: InflateOutput,
  ): Promise<void> {
    if (usable === undefined) await streamsUsable();
    if (!usable) {
      this.#fallback ??= zlibEngine().decompressor({
        windowBits: this.#windowBits,
      });
    }
    if (this.#fallback !== null) {
      return this.#fallback.decompress(data, fin, out);
    }
    const pump = this.#pump ??= new Pump(
      new DecompressionStream("deflate-raw"),
    );
    const mark = out.length;
    try {
      for (let at = 0; at < data.length;) {
        const slice = Math.min(
          MAX_SLICE,
          Math.max(MIN_SLICE, Math.floor(out.room / MAX_EXPANSION)),
        );
        const end = Math.min(data.length, at + slice);
        try {
          await pump.write(data.subarray(at, end));
        } catch (err) {
          if (!endedStream(err) || this.#partial) throw err;
          // A final block ended the peer's stream inside this message, at a
          // point the stream does not tell: zlib inflates the message again.
          out.truncate(mark);
          this.#toZlib();
          return this.#fallback!.decompress(data, fin, out);
        }
        drain(pump, out);
        at = end;
      }
      this.#partial = !fin;
      if (!fin) return;
      try {
        await pump.write(SYNC_TRAILER);
        drain(pump, out);
        this.#window.push(out.data);
      } catch (err) {
        if (!endedStream(err)) throw err;
        // The peer ended its stream with a final block right before the
        // trailer: its next message starts a new stream, on zlib, which can
        // preset the window as dictionary.
        this.#window.push(out.data);
        this.#toZlib();
      }
    } catch (err) {
      this.reset();
      if (err instanceof WebSocketError) throw err;
      throw new WebSocketError(
        "invalid_compressed_data",
        `Compressed message does not inflate: ${
          err instanceof Error ? err.message : String(err)
        }`,
        { cause: err },
      );
    }
  }

  /** Goes on with a zlib inflater that starts from the window. */
  #toZlib(): void {
    this.#pump?.close();
    this.#pump = null;
    this.#fallback = zlibInflaterFrom(this.#windowBits, this.#window);
  }

  reset(): void {
    this.#pump?.close();
    this.#pump = null;
    this.#fallback?.reset();
    this.#window.clear();
    this.#partial = false;
  }

  close(): void {
    this.reset();
    this.#fallback?.close();
  }
}

function drain(pump: Pump, out: InflateOutput): void {
  for (const chunk of pump.take()) out.push(chunk);
}

/** Deno's message for input written after the end of the stream (pinned by a canary). */
function endedStream(err: unknown): boolean {
  return err instanceof Error && /whole buffer/.test(err.message);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
