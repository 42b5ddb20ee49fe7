/**
 * The argument checks the WHATWG WebSocket interfaces share: URL, subprotocols,
 * close code and reason, each failing with the `DOMException` the standard names.
 *
 * @module
 */

import { isToken } from "../codec/http_token.ts";

/** The largest close reason, in UTF-8 bytes. */
const MAX_REASON_BYTES = 123;

/**
 * Parses a WebSocket URL as the standard's constructor does: `http:` becomes
 * `ws:`, `https:` becomes `wss:`; any other scheme, a fragment or an invalid URL
 * is a `SyntaxError`.
 */
export function parseWebSocketUrl(url: string | URL): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DOMException(`Invalid URL: ${url}`, "SyntaxError");
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new DOMException(
      `The URL's scheme must be ws or wss, not ${u.protocol.slice(0, -1)}`,
      "SyntaxError",
    );
  }
  if (u.hash !== "" || u.href.endsWith("#")) {
    throw new DOMException("The URL must not have a fragment", "SyntaxError");
  }
  return u;
}

/** The subprotocol list, refusing repeated names and names that are not tokens. */
export function parseProtocols(
  protocols: string | readonly string[] | undefined,
): string[] {
  const list = protocols === undefined
    ? []
    : typeof protocols === "string"
    ? [protocols]
    : [...protocols].map(String);
  const seen = new Set<string>();
  for (const p of list) {
    if (!isToken(p) || seen.has(p.toLowerCase())) {
      throw new DOMException(`Invalid subprotocol: ${p}`, "SyntaxError");
    }
    seen.add(p.toLowerCase());
  }
  return list;
}

/**
 * Checks `close(code, reason)`'s arguments: the code must be 1000 or 3000-4999
 * (`InvalidAccessError`), the reason at most 123 bytes of UTF-8 (`SyntaxError`).
 */
export function checkClose(code: number | undefined, reason: string): void {
  if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
    throw new DOMException(
      `The close code must be 1000 or between 3000 and 4999, got ${code}`,
      "InvalidAccessError",
    );
  }
  if (utf8Length(reason) > MAX_REASON_BYTES) {
    throw new DOMException(
      `The close reason must be at most ${MAX_REASON_BYTES} bytes of UTF-8`,
      "SyntaxError",
    );
  }
}

/** The UTF-8 length of a string, lone surrogates counted as U+FFFD (3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
