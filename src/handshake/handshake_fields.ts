/**
 * The header fields the opening handshake owns, shared by both roles: the
 * protocol version, and the check that extra fields do not override them.
 *
 * @module
 */

/** The one `Sec-WebSocket-Version` of RFC 6455. */
export const WEBSOCKET_VERSION = "13";

/** Header fields the handshake sets itself, in both directions. */
const HANDSHAKE_FIELDS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** Tells whether a (lower-case) field name is one the handshake sets itself. */
export function isHandshakeField(name: string): boolean {
  return HANDSHAKE_FIELDS.has(name);
}

/**
 * Appends the caller's extra header fields to the handshake's own.
 *
 * @throws {TypeError} When an extra field is one that `owned` claims.
 */
export function appendExtraFields(
  fields: [string, string][],
  extra: Headers | undefined,
  owned: (name: string) => boolean,
): [string, string][] {
  for (const [name, value] of extra ?? []) {
    if (owned(name)) {
      throw new TypeError(`Cannot set the handshake header ${name}`);
    }
    fields.push([name, value]);
  }
  return fields;
}
