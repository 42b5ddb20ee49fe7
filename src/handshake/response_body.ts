/**
 * The body of a server's refusal (a response other than 101), read within a
 * bound so that a client can report why it was refused: `Content-Length`,
 * chunked and close-delimited bodies (RFC 9112 §6), at most 4 KiB kept.
 *
 * @module
 */

import { untilAborted } from "../_timers.ts";
import { hasToken } from "../codec/http_token.ts";
import { ByteSource, type ReadMode, type Transport } from "../io/transport.ts";
import type { HttpResponse } from "./http_parse.ts";

/** The most body bytes kept from a refusal. */
export const MAX_REFUSAL_BODY = 4096;
/** The most raw bytes read for a chunked body: data plus its chunk framing. */
const MAX_CHUNKED_BYTES = 2 * MAX_REFUSAL_BODY;
const EMPTY = new Uint8Array(0);
const CR = 0x0d;
const LF = 0x0a;

/**
 * Reads the start of a refusal's body: the bytes already read after its head,
 * then from the transport until the body ends, 4 KiB are in, the connection
 * ends, or the signal aborts (what arrived by then is kept).
 *
 * @example A 403 whose body arrived with its head
 * ```ts
 * import { readRefusalBody } from "./response_body.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const head = { version: "HTTP/1.1", status: 403, reason: "", headers: new Headers({ "content-length": "2" }) };
 * const body = await readRefusalBody({ readable, writable }, head, new TextEncoder().encode("no"), "byob");
 * assertEquals(new TextDecoder().decode(body), "no");
 * ```
 *
 * @param transport Where the rest of the body comes from.
 * @param response The refusal's head.
 * @param rest The bytes read after the head.
 * @param mode How to read the transport.
 * @param signal Stops the read.
 * @returns At most 4 KiB of the body, decoded from chunks when chunked.
 */
export async function readRefusalBody(
  transport: Transport,
  response: HttpResponse,
  rest: Uint8Array,
  mode: ReadMode,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const framing = framingOf(response);
  if (framing === "none") return EMPTY;
  const chunked = framing === "chunked";
  const cap = chunked
    ? MAX_CHUNKED_BYTES
    : Math.min(framing === "close" ? Infinity : framing, MAX_REFUSAL_BODY);
  const source = new ByteSource(transport, cap, mode);
  let filled = Math.min(rest.length, cap);
  source.buffer.set(rest.subarray(0, filled));
  try {
    while (filled < cap && !(chunked && chunksEnd(source.buffer, filled))) {
      const read = source.read(filled);
      const n = await untilAborted(read, signal, () => source.cancel());
      if (n === null || n === 0) break;
      filled += n;
    }
  } catch {
    // The server is gone or the time ran out: keep what arrived.
  } finally {
    source.release();
  }
  const raw = source.buffer.subarray(0, filled);
  return chunked ? decodeChunks(raw) : raw.slice();
}

/** How the body is delimited: a length, chunks, the connection's end, or not at all. */
function framingOf(
  response: HttpResponse,
): number | "chunked" | "close" | "none" {
  const { status, headers } = response;
  if (status < 200 || status === 204 || status === 304) return "none";
  if (hasToken(headers.get("transfer-encoding"), "chunked")) return "chunked";
  const length = headers.get("content-length");
  if (length === null) return "close";
  const n = /^\d+$/.test(length) ? Number(length) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : "none";
}

/** Whether `buf[0..filled)` holds a whole chunked body (its last-chunk). */
function chunksEnd(buf: Uint8Array, filled: number): boolean {
  let at = 0;
  for (;;) {
    const line = lineEnd(buf, at, filled);
    if (line < 0) return false;
    const size = chunkSize(buf, at, line);
    if (size < 0) return true; // Malformed: nothing more to wait for.
    if (size === 0) return true;
    at = line + 2 + size + 2;
    if (at > filled) return false;
  }
}

/** The data of the complete chunks in `raw`, at most 4 KiB of it. */
function decodeChunks(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(MAX_REFUSAL_BODY);
  let length = 0;
  let at = 0;
  while (length < out.length) {
    const line = lineEnd(raw, at, raw.length);
    if (line < 0) break;
    const size = chunkSize(raw, at, line);
    if (size <= 0) break;
    const data = raw.subarray(line + 2, Math.min(line + 2 + size, raw.length));
    const take = Math.min(data.length, out.length - length);
    out.set(data.subarray(0, take), length);
    length += take;
    at = line + 2 + size + 2;
  }
  return out.slice(0, length);
}

/** The index of the CRLF ending the line at `from`, or -1. */
function lineEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) {
    if (buf[i] === CR && buf[i + 1] === LF) return i;
  }
  return -1;
}

/** A chunk-size line's size (extensions after `;` ignored), or -1 when malformed. */
function chunkSize(buf: Uint8Array, from: number, to: number): number {
  let size = 0;
  let digits = 0;
  for (let i = from; i < to && buf[i] !== 0x3b; i++) {
    const d = hexDigit(buf[i]);
    if (d < 0) {
      if (buf[i] === 0x20 || buf[i] === 0x09) continue;
      return -1;
    }
    size = size * 16 + d;
    if (++digits > 8) return -1;
  }
  return digits === 0 ? -1 : size;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
