/**
 * The HTTP token grammar (RFC 9110 §5.6): tokens and comma-separated lists, as
 * header field names, subprotocol names and extension names use them.
 *
 * @module
 */

// RFC 9110 §5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Tells whether a string is an HTTP token (RFC 9110 §5.6.2), as subprotocol names
 * must be.
 *
 * @example
 * ```ts
 * import { isToken } from "./http_token.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isToken("chat.v2"));
 * assert(!isToken("two words"));
 * ```
 *
 * @param value The string.
 * @returns Whether it is a token.
 */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * Splits a comma-separated header value into its elements, dropping optional
 * whitespace and empty elements (RFC 9110 §5.6.1). `null` gives an empty list.
 *
 * @example
 * ```ts
 * import { parseTokenList } from "./http_token.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parseTokenList("keep-alive, Upgrade ,,"), ["keep-alive", "Upgrade"]);
 * ```
 *
 * @param value A header value, or `null` when the header is absent.
 * @returns The elements, in order.
 */
export function parseTokenList(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const item = part.trim();
    if (item !== "") out.push(item);
  }
  return out;
}

/**
 * Tells whether a comma-separated header value holds a token, ignoring case.
 *
 * @example
 * ```ts
 * import { hasToken } from "./http_token.ts";
 * import { assert } from "@std/assert";
 *
 * assert(hasToken("keep-alive, Upgrade", "upgrade"));
 * ```
 *
 * @param value A header value, or `null` when the header is absent.
 * @param token The token to look for, in lower case.
 * @returns Whether the list holds it.
 */
export function hasToken(value: string | null, token: string): boolean {
  return parseTokenList(value).some((t) => t.toLowerCase() === token);
}
