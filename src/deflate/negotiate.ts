/**
 * permessage-deflate negotiation (RFC 7692 §5-7): pure functions from header
 * values and options to the agreed parameters.
 *
 * Over 500 lines, just: RFC 7692's parameter rules for both roles (offers,
 * answers, window bits, takeover) stay in one place so that the client and
 * server sides cannot drift apart.
 *
 * @module
 */

import type { DeflateEngine } from "./compressor.ts";
import {
  type Extension,
  type ExtensionParam,
  formatExtension,
  parseExtensions,
} from "./extension_header.ts";

/**
 * The extension's registered name.
 *
 * @example
 * ```ts
 * import { PERMESSAGE_DEFLATE } from "./negotiate.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(PERMESSAGE_DEFLATE, "permessage-deflate");
 * ```
 */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * How a connection uses permessage-deflate. The four RFC 7692 preferences are
 * named as the parameters they become, whatever the side: a server with
 * `clientNoContextTakeover` asks the client to reset its window per message.
 *
 * @example A server that compresses with zlib at level 1 and a 10-bit window
 * ```ts
 * import { type DeflateOptions, zlibEngine } from "@wsx/websocket/deflate";
 * import { assertEquals } from "@std/assert";
 *
 * const options: DeflateOptions = { engine: zlibEngine(), level: 1, serverMaxWindowBits: 10 };
 * assertEquals(options.level, 1);
 * ```
 */
export interface DeflateOptions {
  /** `false` turns compression off: nothing is offered or accepted. Default `true`. */
  enabled?: boolean;
  /**
   * The compression level, 0 to 9. Default 6, or 3 where this side compresses
   * without context takeover (each message alone, where higher levels buy 3-5 %
   * in size for 1.25x the CPU). The default engine ignores it (it compresses at 6).
   */
  level?: number;
  /** Messages shorter than this many bytes are sent uncompressed (default 128). */
  threshold?: number;
  /** Ask (client) or declare (server) that the server resets its window per message. */
  serverNoContextTakeover?: boolean;
  /** Ask (server) or declare (client) that the client resets its window per message. */
  clientNoContextTakeover?: boolean;
  /** The server's window, 8-15 bits: requested by a client, used by a server. */
  serverMaxWindowBits?: number;
  /**
   * The client's window, 8-15 bits: used by a client; requested by a server from
   * clients that offer `client_max_window_bits` (others keep 15).
   */
  clientMaxWindowBits?: number;
  /**
   * The DEFLATE engine. Default: `CompressionStream` (see
   * `compressionStreamEngine`), and `zlibEngine()` for a connection whose own
   * window must be below 15 bits, which `CompressionStream` cannot keep: with
   * the default, every valid offer gets compression. An engine given here is
   * used alone (offers it cannot honour are declined).
   */
  engine?: DeflateEngine;
}

/**
 * The parameters a handshake agreed on, with absent window bits as 15.
 *
 * @example
 * ```ts
 * import { negotiateDeflate } from "./negotiate.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { params } = negotiateDeflate("permessage-deflate; client_no_context_takeover")!;
 * assertEquals(params, {
 *   serverNoContextTakeover: false,
 *   clientNoContextTakeover: true,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * });
 * ```
 */
export interface DeflateParams {
  /** The server starts every message with an empty window. */
  serverNoContextTakeover: boolean;
  /** The client starts every message with an empty window. */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, 8-15 bits. */
  serverMaxWindowBits: number;
  /** The client's LZ77 window, 8-15 bits. */
  clientMaxWindowBits: number;
}

/**
 * Checks options for a side, before any handshake.
 *
 * @param options The options.
 * @param role The side they are for: each side can only limit its own window
 * when its engine can (the default engine hands such connections to zlib).
 * @throws {RangeError} For a level, threshold or window size out of range, or a
 * window below 15 bits for this side with a given engine that cannot limit it.
 *
 * @example
 * ```ts
 * import { checkDeflateOptions } from "./negotiate.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkDeflateOptions({ level: 9, serverMaxWindowBits: 10 }, "server");
 * assertThrows(() => checkDeflateOptions({ level: 10 }, "server"), RangeError);
 * ```
 */
export function checkDeflateOptions(
  options: DeflateOptions,
  role: "client" | "server",
): void {
  const { level, threshold } = options;
  if (
    level !== undefined &&
    !(Number.isInteger(level) && level >= 0 && level <= 9)
  ) {
    throw new RangeError(`Compression level must be 0 to 9, got ${level}`);
  }
  if (
    threshold !== undefined && !(Number.isInteger(threshold) && threshold >= 0)
  ) {
    throw new RangeError(
      `Threshold must be a non-negative integer, got ${threshold}`,
    );
  }
  for (const name of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const bits = options[name];
    if (bits !== undefined && !isWindowBits(bits)) {
      throw new RangeError(`${name} must be 8 to 15, got ${bits}`);
    }
  }
  const own = role === "server"
    ? options.serverMaxWindowBits
    : options.clientMaxWindowBits;
  if (own !== undefined && own < 15 && !limitsWindow(options)) {
    throw new RangeError(
      `The ${options.engine?.name} engine cannot limit its window to ${own} bits`,
    );
  }
}

/**
 * Whether this side may keep its own window below 15 bits: when its engine can,
 * and with the default engine, whose connections that must get zlib instead.
 */
function limitsWindow(options: DeflateOptions): boolean {
  return options.engine?.limitsWindow ?? true;
}

/**
 * Whether a client offers `client_max_window_bits`: always when its engine can
 * limit its window; with the default engine only when it asks for fewer bits
 * (a default connection at 15 bits keeps `CompressionStream`).
 */
function offersClientBits(options: DeflateOptions): boolean {
  return options.engine?.limitsWindow ??
    options.clientMaxWindowBits !== undefined;
}

/**
 * Answers a client's offer on the server: accepts the first permessage-deflate
 * offer this server can honour, and declines (returns `null`) when there is none.
 *
 * An offer is declined when it has an unknown or repeated parameter, a value where
 * none is allowed (or none where one is required), a window size outside 8-15, or
 * asks for `server_max_window_bits` below 15 from a given engine that cannot
 * limit its window (the default engine takes it: such connections compress with
 * zlib). A malformed header declines everything.
 *
 * @param offer The `Sec-WebSocket-Extensions` value of the request, or `null`.
 * @param options The server's options (checked with `checkDeflateOptions`).
 * @returns The agreed parameters and the response header value, or `null`.
 *
 * @example
 * ```ts
 * import { negotiateDeflate } from "./negotiate.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const offer = "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits";
 * assertEquals(negotiateDeflate(offer)!.response, "permessage-deflate; server_max_window_bits=10");
 * assertEquals(negotiateDeflate("x-webkit-deflate-frame"), null);
 * ```
 */
export function negotiateDeflate(
  offer: string | null,
  options: DeflateOptions = {},
): { params: DeflateParams; response: string } | null {
  if (options.enabled === false || offer === null) return null;
  const extensions = parseExtensions(offer);
  if (extensions === null) return null;
  for (const ext of extensions) {
    if (ext.name !== PERMESSAGE_DEFLATE) continue;
    const answer = answerOffer(ext.params, options);
    if (answer !== null) return answer;
  }
  return null;
}

function answerOffer(
  offered: ExtensionParam[],
  options: DeflateOptions,
): { params: DeflateParams; response: string } | null {
  const o = readParams(offered, "offer");
  if (o === null) return null;
  if (
    o.serverMaxWindowBits !== null && o.serverMaxWindowBits < 15 &&
    !limitsWindow(options)
  ) {
    return null;
  }
  let serverBits = o.serverMaxWindowBits;
  if (options.serverMaxWindowBits !== undefined) {
    serverBits = Math.min(serverBits ?? 15, options.serverMaxWindowBits);
  }
  let clientBits: number | null = null;
  if (
    o.clientMaxWindowBits !== null && options.clientMaxWindowBits !== undefined
  ) {
    // The client can limit its window: ask for ours, within what it allowed.
    clientBits = o.clientMaxWindowBits === true
      ? options.clientMaxWindowBits
      : Math.min(o.clientMaxWindowBits, options.clientMaxWindowBits);
  } else if (typeof o.clientMaxWindowBits === "number") {
    clientBits = o.clientMaxWindowBits;
  }
  const params: DeflateParams = {
    serverNoContextTakeover: o.serverNoContextTakeover ||
      options.serverNoContextTakeover === true,
    clientNoContextTakeover: o.clientNoContextTakeover ||
      options.clientNoContextTakeover === true,
    serverMaxWindowBits: serverBits ?? 15,
    clientMaxWindowBits: clientBits ?? 15,
  };
  return {
    params,
    response: formatDeflate(params, serverBits !== null, clientBits !== null),
  };
}

/**
 * Makes a client's offer.
 *
 * `client_max_window_bits` is offered (so a server may shrink the client's window)
 * when the engine can limit its window, or with the default engine when
 * `clientMaxWindowBits` asks for one (that connection then compresses with zlib).
 *
 * @param options The client's options (checked with `checkDeflateOptions`).
 * @returns The `Sec-WebSocket-Extensions` value, or `""` when compression is off.
 *
 * @example
 * ```ts
 * import { zlibEngine } from "@wsx/websocket/deflate";
 * import { offerDeflate } from "./negotiate.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(offerDeflate(), "permessage-deflate");
 * assertEquals(
 *   offerDeflate({ engine: zlibEngine(), serverMaxWindowBits: 10 }),
 *   "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
 * );
 * ```
 */
export function offerDeflate(options: DeflateOptions = {}): string {
  if (options.enabled === false) return "";
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover) {
    params.push({ name: "server_no_context_takeover", value: null });
  }
  if (options.clientNoContextTakeover) {
    params.push({ name: "client_no_context_takeover", value: null });
  }
  if (options.serverMaxWindowBits !== undefined) {
    params.push({
      name: "server_max_window_bits",
      value: String(options.serverMaxWindowBits),
    });
  }
  if (offersClientBits(options)) {
    const bits = options.clientMaxWindowBits;
    params.push({
      name: "client_max_window_bits",
      value: bits === undefined ? null : String(bits),
    });
  }
  return formatExtension({ name: PERMESSAGE_DEFLATE, params });
}

/**
 * Checks a server's response to {@linkcode offerDeflate} on the client.
 *
 * @param response The response's `Sec-WebSocket-Extensions` value, or `null`.
 * @param options The options the offer was made with.
 * @returns The agreed parameters, or `null` when the server declined.
 * @throws {TypeError} When the response is malformed, names an extension other
 * than permessage-deflate or names it twice, or has a parameter that was not
 * requested or is out of range; the handshake must then fail.
 *
 * @example
 * ```ts
 * import { acceptDeflateResponse } from "./negotiate.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const params = acceptDeflateResponse("permessage-deflate; server_no_context_takeover", {});
 * assertEquals(params?.serverNoContextTakeover, true);
 * assertThrows(() => acceptDeflateResponse("permessage-deflate; client_max_window_bits=10", {}));
 * ```
 */
export function acceptDeflateResponse(
  response: string | null,
  options: DeflateOptions,
): DeflateParams | null {
  if (response === null || response.trim() === "") return null;
  const extensions = parseExtensions(response);
  if (extensions === null) {
    throw new TypeError(`Malformed Sec-WebSocket-Extensions: ${response}`);
  }
  const ext = onlyDeflate(extensions, options);
  const r = readParams(ext.params, "response");
  if (r === null) {
    throw new TypeError(`Invalid permessage-deflate response: ${response}`);
  }
  if (
    r.serverMaxWindowBits !== null &&
    options.serverMaxWindowBits !== undefined &&
    r.serverMaxWindowBits > options.serverMaxWindowBits
  ) {
    throw new TypeError(
      `Server window of ${r.serverMaxWindowBits} bits exceeds the ${options.serverMaxWindowBits} requested`,
    );
  }
  if (r.clientMaxWindowBits !== null) {
    const offered = offersClientBits(options)
      ? options.clientMaxWindowBits ?? 15
      : 0;
    if (r.clientMaxWindowBits === true || r.clientMaxWindowBits > offered) {
      throw new TypeError(
        `Server asked for a client window the client did not offer: ${response}`,
      );
    }
  }
  return agreed(r);
}

function onlyDeflate(
  extensions: Extension[],
  options: DeflateOptions,
): Extension {
  const names = extensions.map((e) => e.name).join(", ");
  if (
    extensions.length !== 1 || extensions[0].name !== PERMESSAGE_DEFLATE
  ) {
    throw new TypeError(
      `Server chose extensions that were not offered: ${names}`,
    );
  }
  if (options.enabled === false) {
    throw new TypeError(
      "Server chose permessage-deflate, which was not offered",
    );
  }
  return extensions[0];
}

/**
 * Reads the agreed parameters back from a negotiated `Sec-WebSocket-Extensions`
 * value (as `Conn.extensions` holds it), on either side.
 *
 * @param extensions The negotiated value.
 * @returns The parameters, or `null` when permessage-deflate is not in it.
 * @throws {TypeError} When its permessage-deflate parameters are invalid.
 *
 * @example
 * ```ts
 * import { deflateParamsOf } from "./negotiate.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(deflateParamsOf("permessage-deflate; client_max_window_bits=9")?.clientMaxWindowBits, 9);
 * assertEquals(deflateParamsOf(""), null);
 * ```
 */
export function deflateParamsOf(extensions: string): DeflateParams | null {
  const parsed = parseExtensions(extensions);
  if (parsed === null) {
    throw new TypeError(`Malformed extensions: ${extensions}`);
  }
  const ext = parsed.find((e) => e.name === PERMESSAGE_DEFLATE);
  if (ext === undefined) return null;
  const r = readParams(ext.params, "response");
  if (r === null) {
    throw new TypeError(`Invalid permessage-deflate parameters: ${extensions}`);
  }
  return agreed(r);
}

function agreed(r: RawParams): DeflateParams {
  return {
    serverNoContextTakeover: r.serverNoContextTakeover,
    clientNoContextTakeover: r.clientNoContextTakeover,
    serverMaxWindowBits: r.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: typeof r.clientMaxWindowBits === "number"
      ? r.clientMaxWindowBits
      : 15,
  };
}

/** The parameters of one offer or response; `null` for absent window bits. */
interface RawParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** `true` for a valueless `client_max_window_bits` (offers only). */
  clientMaxWindowBits: number | true | null;
}

/** Validates one extension's parameters (RFC 7692 §7.1); `null` when invalid. */
function readParams(
  params: ExtensionParam[],
  kind: "offer" | "response",
): RawParams | null {
  const out: RawParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const { name, value } of params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return null;
        if (name === "server_no_context_takeover") {
          out.serverNoContextTakeover = true;
        } else {
          out.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits": {
        const bits = windowBits(value);
        if (bits === null) return null;
        out.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === null && kind === "offer") {
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === null) return null;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

/** A window-bits value: 8-15 in decimal without leading zeros (RFC 7692 §7.1.2). */
function windowBits(value: string | null): number | null {
  if (value === null || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

function isWindowBits(bits: number): boolean {
  return Number.isInteger(bits) && bits >= 8 && bits <= 15;
}

function formatDeflate(
  params: DeflateParams,
  withServerBits: boolean,
  withClientBits: boolean,
): string {
  const out: ExtensionParam[] = [];
  if (params.serverNoContextTakeover) {
    out.push({ name: "server_no_context_takeover", value: null });
  }
  if (params.clientNoContextTakeover) {
    out.push({ name: "client_no_context_takeover", value: null });
  }
  if (withServerBits) {
    out.push({
      name: "server_max_window_bits",
      value: String(params.serverMaxWindowBits),
    });
  }
  if (withClientBits) {
    out.push({
      name: "client_max_window_bits",
      value: String(params.clientMaxWindowBits),
    });
  }
  return formatExtension({ name: PERMESSAGE_DEFLATE, params: out });
}
