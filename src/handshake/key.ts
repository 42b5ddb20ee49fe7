/**
 * The `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` values of the opening
 * handshake (RFC 6455 §1.3, §4.1). Pure apart from `crypto`.
 *
 * @module
 */

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Base64 of exactly 16 bytes. */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const encoder = new TextEncoder();

/**
 * Computes the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: the base64
 * SHA-1 of the key followed by the RFC 6455 GUID.
 *
 * @example The example of RFC 6455 §1.3
 * ```ts
 * import { acceptKey } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The matching `Sec-WebSocket-Accept`.
 */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  return toBase64(new Uint8Array(digest));
}

/**
 * Makes a fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
 *
 * @example A new key is a valid one
 * ```ts
 * import { generateKey, isValidKey } from "./key.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isValidKey(generateKey()));
 * ```
 *
 * @returns A new key.
 */
export function generateKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Tells whether a `Sec-WebSocket-Key` is the base64 of exactly 16 bytes.
 *
 * @example The RFC's key, and one too short
 * ```ts
 * import { isValidKey } from "./key.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
 * assert(!isValidKey("c2hvcnQ="));
 * ```
 *
 * @param key The header value.
 * @returns Whether it is a valid key.
 */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

/** Base64 of a few bytes (a key or a digest). */
function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
