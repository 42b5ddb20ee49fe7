/**
 * Shared fixtures of the handshake tests: the RFC 6455 example key, request and
 * response builders, and socket helpers.
 */

import { assertEquals, assertInstanceOf } from "@std/assert";
import { HandshakeError } from "../../src/codec/errors.ts";
import type {
  HttpRequest,
  HttpResponse,
} from "../../src/handshake/http_parse.ts";

const enc = new TextEncoder();

/** The `Sec-WebSocket-Key` of RFC 6455 §1.3. */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** The `Sec-WebSocket-Accept` that {@linkcode RFC_KEY} calls for. */
export const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** "Hello" compressed as one permessage-deflate message (RFC 7692 §7.2.3.1). */
export const HELLO_DEFLATED: Uint8Array = Uint8Array.of(
  0xf2,
  0x48,
  0xcd,
  0xc9,
  0xc9,
  0x07,
  0x00,
);

/** The latin1 bytes of an ASCII string. */
export const bytes = (s: string): Uint8Array => enc.encode(s);

/** Asserts that `err` is a {@linkcode HandshakeError} with `status`. */
export function assertStatus(err: unknown, status: number): void {
  assertInstanceOf(err, HandshakeError);
  assertEquals((err as HandshakeError).status, status);
}

/** Sets or (for `null`) deletes fields of `h`. */
function edit(h: Headers, fields: Record<string, string | null>): Headers {
  for (const [name, value] of Object.entries(fields)) {
    if (value === null) h.delete(name);
    else h.set(name, value);
  }
  return h;
}

/** A valid upgrade request with the RFC key, edited by `headers` and `line`. */
export function request(
  headers: Record<string, string | null> = {},
  line: Partial<HttpRequest> = {},
): HttpRequest {
  const h = edit(
    new Headers({
      host: "example.com",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": RFC_KEY,
      "sec-websocket-version": "13",
    }),
    headers,
  );
  return {
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    headers: h,
    ...line,
  };
}

/** A valid 101 answer to the RFC key, edited by `headers`. */
export function response(
  headers: Record<string, string | null> = {},
  status = 101,
): HttpResponse {
  const h = edit(
    new Headers({
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-accept": RFC_ACCEPT,
    }),
    headers,
  );
  return { version: "HTTP/1.1", status, reason: "", headers: h };
}

/** Reads until the peer closes or resets (true), at most 1,000 reads (false). */
export async function readsEof(conn: Deno.Conn): Promise<boolean> {
  const buf = new Uint8Array(1024);
  for (let i = 0; i < 1000; i++) {
    try {
      if (await conn.read(buf) === null) return true;
    } catch {
      return true; // reset
    }
  }
  return false;
}

/** `n` bytes of a pattern that does not repeat every 256 bytes. */
export function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}
