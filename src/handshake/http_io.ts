/**
 * The HTTP/1.1 head of the opening handshake on a socket: reading one within
 * bounds on size, header count and time, and writing one.
 *
 * @module
 */

import { HandshakeError } from "../codec/errors.ts";
import { untilAborted } from "../_timers.ts";
import { ByteSource, type ReadMode, type Transport } from "../io/transport.ts";
import { scanFields } from "./field_scan.ts";
import {
  bareLf,
  checkStartLine,
  DEFAULT_HEAD_LIMITS,
  findHeadEnd,
  headLength,
  type HeadLimits,
  headTooLarge,
  type HttpRequest,
  type HttpResponse,
  HttpStatus,
  indexOfBareLf,
  parseRequest,
  parseResponse,
  resolveLimits,
} from "./http_parse.ts";

/**
 * A head read from a connection, and the bytes that arrived after it.
 *
 * @example
 * ```ts
 * import type { HeadRead } from "./http_io.ts";
 * import type { HttpResponse } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const read: HeadRead<HttpResponse> = {
 *   head: { version: "HTTP/1.1", status: 101, reason: "", headers: new Headers() },
 *   rest: new Uint8Array([0x81, 0x00]),
 * };
 * assertEquals(read.rest.length, 2);
 * ```
 */
export interface HeadRead<T> {
  /** The parsed head. */
  head: T;
  /** The bytes after the head: the start of the frame stream (a copy). */
  rest: Uint8Array;
}

/**
 * Options for reading a head: its bounds, and a signal that stops the read.
 *
 * @example
 * ```ts
 * import type { ReadHeadOptions } from "./http_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ReadHeadOptions = { maxHeaders: 32, signal: AbortSignal.abort() };
 * assertEquals(options.signal?.aborted, true);
 * ```
 */
export interface ReadHeadOptions extends HeadLimits {
  /**
   * Stops the read: it rejects with the signal's reason. A pending direct read on a
   * `Deno.Conn` only ends when the caller closes the connection.
   */
  signal?: AbortSignal;
  /**
   * Called with each header field (name in lower case) as soon as its line has
   * arrived, before the rest of the head; throwing stops the read with that error.
   */
  onField?: (name: string, value: string) => void;
}

/**
 * Reads an HTTP/1.1 request head from a connection and parses it.
 *
 * Reads into the source's buffer until the blank line that ends the head, then
 * releases the source's reader lock so that a {@linkcode Conn} can take the stream.
 *
 * @example Reading a request sent over loopback
 * ```ts
 * import { readRequest } from "./http_io.ts";
 * import { ByteSource } from "../io/transport.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * await client.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n!"));
 * const { head, rest } = await readRequest(new ByteSource(server, 8192));
 * assertEquals(head.headers.get("host"), "a");
 * assertEquals(rest, new Uint8Array([0x21]));
 * client.close();
 * server.close();
 * listener.close();
 * ```
 *
 * @param source Where the bytes come from; its buffer grows up to `maxHeadBytes`.
 * @param options Bounds and an abort signal.
 * @returns The request and the bytes after it.
 * @throws {HandshakeError} With 400 when the head is malformed or the connection
 * ends first, 414 when the request line is too long, 431 when the head is too big.
 */
export async function readRequest(
  source: ByteSource,
  options: ReadHeadOptions = {},
): Promise<HeadRead<HttpRequest>> {
  const limits = resolveLimits(options);
  try {
    const { head, rest } = await readHead(
      source,
      limits,
      options.signal,
      options.onField,
    );
    return {
      head: parseRequest(head, limits),
      rest: withLeftover(rest, source.release()),
    };
  } finally {
    source.release();
  }
}

/**
 * Reads an HTTP/1.1 response head from a connection and parses it.
 *
 * @example Reading a response sent over loopback
 * ```ts
 * import { readResponse } from "./http_io.ts";
 * import { ByteSource } from "../io/transport.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * await server.write(new TextEncoder().encode("HTTP/1.1 404 Not Found\r\n\r\n"));
 * const { head } = await readResponse(new ByteSource(client, 8192));
 * assertEquals(head.status, 404);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 *
 * @param source Where the bytes come from; its buffer grows up to `maxHeadBytes`.
 * @param options Bounds and an abort signal.
 * @returns The response and the bytes after it.
 * @throws {HandshakeError} With status 0 when no valid response head arrived.
 */
export async function readResponse(
  source: ByteSource,
  options: ReadHeadOptions = {},
): Promise<HeadRead<HttpResponse>> {
  const limits = resolveLimits(options);
  try {
    const { head, rest } = await readHead(source, limits, options.signal);
    return {
      head: parseResponse(head, limits),
      rest: withLeftover(rest, source.release()),
    };
  } catch (err) {
    if (!(err instanceof HandshakeError) || err.status === 0) throw err;
    throw new HandshakeError(0, `Invalid handshake response: ${err.message}`, {
      cause: err,
    });
  } finally {
    source.release();
  }
}

/**
 * Reads a request or response head off a fresh transport, through a source whose
 * buffer holds the head limit: the set-up `accept` and `dial` share.
 */
export function readHeadFrom<T>(
  transport: Transport,
  read: (source: ByteSource, options: ReadHeadOptions) => Promise<HeadRead<T>>,
  options: HeadLimits & { read?: ReadMode },
  signal: AbortSignal,
  onField?: (name: string, value: string) => void,
): Promise<HeadRead<T>> {
  const max = options.maxHeadBytes ?? DEFAULT_HEAD_LIMITS.maxHeadBytes;
  const source = new ByteSource(
    transport,
    Math.min(FIRST_HEAD_BUFFER, max),
    options.read ?? "auto",
  );
  return read(source, {
    maxHeadBytes: options.maxHeadBytes,
    maxHeaders: options.maxHeaders,
    maxLineBytes: options.maxLineBytes,
    signal,
    onField,
  });
}

/** `rest` followed by bytes a non-BYOB stream handed over beyond the buffer. */
function withLeftover(
  rest: Uint8Array,
  leftover: Uint8Array | null,
): Uint8Array {
  if (leftover === null || leftover.length === 0) return rest;
  const out = new Uint8Array(rest.length + leftover.length);
  out.set(rest);
  out.set(leftover, rest.length);
  return out;
}

/**
 * The head buffer to start with: most upgrade requests fit. Reading each
 * handshake into a buffer of the whole head limit (8 KiB) left about 0.4 KiB
 * more resident per idle connection (measured over 10,000).
 */
const FIRST_HEAD_BUFFER = 1024;

/** Doubles the source's buffer, up to `max` bytes, keeping its `filled` bytes. */
function grow(source: ByteSource, filled: number, max: number): void {
  const next = new Uint8Array(Math.min(max, 2 * Math.max(filled, 512)));
  next.set(source.buffer.subarray(0, filled));
  source.buffer = next;
}

/** Reads until CRLFCRLF; returns the head (without it) and a copy of the rest. */
async function readHead(
  source: ByteSource,
  limits: Required<HeadLimits>,
  signal: AbortSignal | undefined,
  onField?: (name: string, value: string) => void,
): Promise<{ head: Uint8Array; rest: Uint8Array }> {
  let filled = 0;
  let startLineEnded = false;
  let scanned = 0;
  // Every read adds at least one byte, and the buffer is finite: bounded.
  for (;;) {
    if (filled >= limits.maxHeadBytes) throw headTooLarge(limits.maxHeadBytes);
    if (filled >= source.buffer.length) {
      grow(source, filled, limits.maxHeadBytes);
    }
    const scanFrom = Math.max(0, filled - 2);
    const read = source.read(filled);
    const n = await untilAborted(read, signal, () => source.cancel());
    if (n === 0 || n === null) {
      throw new HandshakeError(
        HttpStatus.BadRequest,
        "Connection closed before the end of the HTTP head",
      );
    }
    filled += n;
    const buf = source.buffer;
    const end = findHeadEnd(buf, scanFrom, filled);
    // Only the head's own bytes: frames may follow it in the same read.
    startLineEnded ||= checkStartLine(
      buf,
      end < 0 ? filled : end,
      limits.maxLineBytes,
    );
    if (onField !== undefined) {
      scanned = scanFields(buf, scanned, end < 0 ? filled : end, onField);
    }
    if (end < 0) continue;
    if (end > limits.maxHeadBytes) throw headTooLarge(limits.maxHeadBytes);
    if (indexOfBareLf(buf, 0, end) >= 0) throw bareLf();
    return {
      head: buf.subarray(0, headLength(buf, end)),
      rest: buf.slice(end, filled),
    };
  }
}

/**
 * Writes bytes to a transport before a {@linkcode Conn} takes it: directly on a
 * `Deno.Conn`, or through a writer whose lock is released afterwards.
 *
 * @example
 * ```ts
 * import { writeHead } from "./http_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const done = writeHead({ readable, writable }, new Uint8Array([1, 2]), "byob");
 * const { value } = await readable.getReader().read();
 * await done;
 * assertEquals(value, new Uint8Array([1, 2]));
 * ```
 *
 * @param transport Where the bytes go.
 * @param bytes What to write.
 * @param mode `"auto"` uses a `Deno.Conn`'s `write()`; `"byob"` its stream.
 */
export async function writeHead(
  transport: Transport,
  bytes: Uint8Array,
  mode: ReadMode = "auto",
): Promise<void> {
  const direct = transport as unknown as Partial<Deno.Conn>;
  if (
    mode === "auto" && typeof direct.write === "function" &&
    typeof direct.read === "function" && typeof direct.close === "function"
  ) {
    let n = 0;
    while (n < bytes.length) n += await direct.write(bytes.subarray(n));
    return;
  }
  const writer = transport.writable.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    writer.releaseLock();
  }
}
