/**
 * The HTTP/1.1 head of the opening handshake as bytes and values: status codes,
 * limits, parsing a request or response head, and encoding one. Pure: no I/O.
 *
 * Only the head is handled (RFC 9112 §2-5): a WebSocket handshake carries no body,
 * and the bytes after the head belong to the frame stream.
 *
 * @module
 */

import { HandshakeError } from "../codec/errors.ts";
import { isToken } from "../codec/http_token.ts";

/**
 * The HTTP status codes the handshake sends or expects, by name.
 *
 * @example
 * ```ts
 * import { HttpStatus } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(HttpStatus.UpgradeRequired, 426);
 * ```
 */
export const HttpStatus = {
  /** The upgrade succeeded. */
  SwitchingProtocols: 101,
  /** The request is malformed or is not a valid upgrade request. */
  BadRequest: 400,
  /** The request was understood and refused. */
  Forbidden: 403,
  /** The request used a method other than GET. */
  MethodNotAllowed: 405,
  /** The request did not arrive in time. */
  RequestTimeout: 408,
  /** The request line is too long. */
  UriTooLong: 414,
  /** The request must upgrade to a protocol (or version) the server speaks. */
  UpgradeRequired: 426,
  /** The head is too big or has too many fields. */
  RequestHeaderFieldsTooLarge: 431,
  /** The server failed while handling the request. */
  InternalServerError: 500,
} as const;

const REASON_PHRASES: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  200: "OK",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  414: "URI Too Long",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * Returns the standard reason phrase of a status code, or `""` for one not listed.
 *
 * @example
 * ```ts
 * import { reasonPhrase } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(reasonPhrase(431), "Request Header Fields Too Large");
 * ```
 *
 * @param status An HTTP status code.
 * @returns Its reason phrase.
 */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? "";
}

/**
 * Bounds on an HTTP head, which keep a peer from holding memory with a huge or
 * endless one.
 *
 * @example Allowing bigger cookies
 * ```ts
 * import type { HeadLimits } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const limits: HeadLimits = { maxHeadBytes: 16 * 1024 };
 * assertEquals(limits.maxHeadBytes, 16384);
 * ```
 */
export interface HeadLimits {
  /**
   * The most bytes the head may take, start line and final blank line included
   * (default 8 KiB). A bigger request is refused with 431.
   */
  maxHeadBytes?: number;
  /** The most header fields (default 64). More are refused with 431. */
  maxHeaders?: number;
  /** The longest request or status line (default 4 KiB). Longer is refused with 414. */
  maxLineBytes?: number;
}

/**
 * The default {@linkcode HeadLimits}: 8 KiB per head, 64 fields, 4 KiB per line.
 *
 * @example
 * ```ts
 * import { DEFAULT_HEAD_LIMITS } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(DEFAULT_HEAD_LIMITS.maxHeadBytes, 8192);
 * ```
 */
export const DEFAULT_HEAD_LIMITS: Readonly<Required<HeadLimits>> = {
  maxHeadBytes: 8 * 1024,
  maxHeaders: 64,
  maxLineBytes: 4 * 1024,
};

/**
 * How long a handshake may take by default, in ms: a peer that sends its head
 * slower than this (slowloris) is dropped.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUT } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
 * ```
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The status line for a status: `HTTP/1.1`, the code and its reason phrase. */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}`;
}

/**
 * A parsed HTTP/1.1 request head.
 *
 * @example
 * ```ts
 * import type { HttpRequest } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const req: HttpRequest = {
 *   method: "GET",
 *   target: "/chat",
 *   version: "HTTP/1.1",
 *   headers: new Headers({ host: "example.com" }),
 * };
 * assertEquals(req.headers.get("Host"), "example.com");
 * ```
 */
export interface HttpRequest {
  /** The method, such as `"GET"` (case-sensitive). */
  method: string;
  /** The request target as sent, such as `"/chat?room=1"`. */
  target: string;
  /** The protocol version, such as `"HTTP/1.1"`. */
  version: string;
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
}

/**
 * A parsed HTTP/1.1 response head.
 *
 * @example
 * ```ts
 * import type { HttpResponse } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const res: HttpResponse = {
 *   version: "HTTP/1.1",
 *   status: 101,
 *   reason: "Switching Protocols",
 *   headers: new Headers({ upgrade: "websocket" }),
 * };
 * assertEquals(res.status, 101);
 * ```
 */
export interface HttpResponse {
  /** The protocol version, such as `"HTTP/1.1"`. */
  version: string;
  /** The status code. */
  status: number;
  /** The reason phrase (possibly empty). */
  reason: string;
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
}

const CR = 0x0d;
const LF = 0x0a;
// RFC 9110 §5.5: field-value characters (VCHAR, obs-text, SP, HTAB).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REQUEST_LINE =
  /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** Fills in the default limits; throws a RangeError for one that is not a positive integer. */
export function resolveLimits(options: HeadLimits): Required<HeadLimits> {
  const limits = {
    maxHeadBytes: options.maxHeadBytes ?? DEFAULT_HEAD_LIMITS.maxHeadBytes,
    maxHeaders: options.maxHeaders ?? DEFAULT_HEAD_LIMITS.maxHeaders,
    maxLineBytes: options.maxLineBytes ?? DEFAULT_HEAD_LIMITS.maxLineBytes,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
  return limits;
}

/**
 * Checks the start line's length in the first `filled` bytes of a head being
 * read; tells whether the line has ended.
 *
 * @throws {HandshakeError} With 414 once the line is longer than `maxLineBytes`.
 */
export function checkStartLine(
  buf: Uint8Array,
  filled: number,
  maxLineBytes: number,
): boolean {
  const lineEnd = indexOfCrlf(buf, 0, filled);
  const lineLength = lineEnd < 0 ? filled : lineEnd;
  if (lineLength > maxLineBytes) throw lineTooLong(maxLineBytes);
  return lineEnd >= 0;
}

/** The error for a head over `maxHeadBytes`: 431. */
export function headTooLarge(maxHeadBytes: number): HandshakeError {
  return new HandshakeError(
    HttpStatus.RequestHeaderFieldsTooLarge,
    `HTTP head exceeds ${maxHeadBytes} bytes`,
  );
}

function lineTooLong(maxLineBytes: number): HandshakeError {
  return new HandshakeError(
    HttpStatus.UriTooLong,
    `HTTP start line exceeds ${maxLineBytes} bytes`,
  );
}

/** The index of the first CRLF in `buf[from, to)`, or -1. */
function indexOfCrlf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) {
    if (buf[i] === CR && buf[i + 1] === LF) return i;
  }
  return -1;
}

/**
 * Finds the blank line that ends a head in `buf[from..to)`: an LF followed by
 * an LF or by CRLF. That is CRLFCRLF in a well-formed head, and the same place
 * in one whose lines end in a bare LF, which is then refused as soon as it is
 * complete instead of waiting for a CRLFCRLF that never comes.
 *
 * @returns Where the bytes after the head start, or -1.
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 0); i + 1 < to; i++) {
    if (buf[i] !== LF) continue;
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && i + 2 < to && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** The head's own bytes before its end (`findHeadEnd`): the last line's CRLF and the blank line left out. */
export function headLength(buf: Uint8Array, end: number): number {
  const lf = buf[end - 2] === LF ? end - 2 : end - 3;
  return lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
}

/**
 * Finds an LF not preceded by CR in `buf[from..to)`: RFC 9112 §2.2 lets a
 * recipient refuse such a line ending, and refusing it at once beats waiting for
 * a CRLFCRLF that may never come.
 *
 * @returns Its index, or -1.
 */
export function indexOfBareLf(
  buf: Uint8Array,
  from: number,
  to: number,
): number {
  for (let i = from; i < to; i++) {
    if (buf[i] === LF && (i === 0 || buf[i - 1] !== CR)) return i;
  }
  return -1;
}

/** The refusal of a head with a bare LF line ending. */
export function bareLf(): HandshakeError {
  return new HandshakeError(
    HttpStatus.BadRequest,
    "HTTP head has a line ending in LF without CR",
  );
}

/**
 * Parses a request head (without the final blank line).
 *
 * @example
 * ```ts
 * import { parseRequest } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const head = new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: example.com");
 * const req = parseRequest(head);
 * assertEquals([req.method, req.target, req.headers.get("host")], ["GET", "/chat", "example.com"]);
 * ```
 *
 * @param head The bytes of the head, lines separated by CRLF.
 * @param limits Bounds on the header count and line length.
 * @returns The parsed request.
 * @throws {HandshakeError} With 400 when malformed, 414 or 431 when over a limit.
 */
export function parseRequest(
  head: Uint8Array,
  limits: HeadLimits = {},
): HttpRequest {
  const { m, headers } = parseHead(head, limits, REQUEST_LINE, "request");
  // RFC 9112 §3.2: a request with more than one Host field must be refused.
  if (headers.get("host")?.includes(",")) {
    throw new HandshakeError(
      HttpStatus.BadRequest,
      "More than one Host header",
    );
  }
  return { method: m[1], target: m[2], version: m[3], headers };
}

/**
 * Parses a response head (without the final blank line).
 *
 * @example
 * ```ts
 * import { parseResponse } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const head = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket");
 * const res = parseResponse(head);
 * assertEquals([res.status, res.headers.get("upgrade")], [101, "websocket"]);
 * ```
 *
 * @param head The bytes of the head, lines separated by CRLF.
 * @param limits Bounds on the header count and line length.
 * @returns The parsed response.
 * @throws {HandshakeError} With status 400, 414 or 431 when malformed or too big.
 */
export function parseResponse(
  head: Uint8Array,
  limits: HeadLimits = {},
): HttpResponse {
  const { m, headers } = parseHead(head, limits, STATUS_LINE, "status");
  return {
    version: m[1],
    status: Number(m[2]),
    reason: m[3] ?? "",
    headers,
  };
}

/** Splits a head into its start line, matched against `pattern`, and its fields. */
function parseHead(
  head: Uint8Array,
  limits: HeadLimits,
  pattern: RegExp,
  kind: "request" | "status",
): { m: RegExpExecArray; headers: Headers } {
  const { maxHeaders, maxLineBytes } = resolveLimits(limits);
  const lines = splitLines(head);
  if (lines[0].length > maxLineBytes) throw lineTooLong(maxLineBytes);
  const m = pattern.exec(lines[0]);
  if (m === null) {
    throw new HandshakeError(HttpStatus.BadRequest, `Malformed ${kind} line`);
  }
  return { m, headers: parseFields(lines, maxHeaders) };
}

/** Decodes bytes one to one (latin1) and splits at CRLF; a bare CR or LF is an error. */
function splitLines(head: Uint8Array): string[] {
  let text = "";
  // Chunked to stay below engine limits on argument counts.
  for (let i = 0; i < head.length; i += 4096) {
    text += String.fromCharCode(...head.subarray(i, i + 4096));
  }
  const lines = text.split("\r\n");
  for (const line of lines) {
    if (line.includes("\r") || line.includes("\n") || line.includes("\0")) {
      throw new HandshakeError(
        HttpStatus.BadRequest,
        "HTTP head has a bare CR, LF or NUL",
      );
    }
  }
  return lines;
}

/** Parses the header fields after the start line. */
function parseFields(lines: string[], maxHeaders: number): Headers {
  if (lines.length - 1 > maxHeaders) {
    throw new HandshakeError(
      HttpStatus.RequestHeaderFieldsTooLarge,
      `HTTP head has more than ${maxHeaders} header fields`,
    );
  }
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = colon < 0 ? "" : line.slice(0, colon);
    // RFC 9112 §5.1-5.2: no space before the colon, no obsolete line folding.
    if (!isToken(name)) {
      throw new HandshakeError(
        HttpStatus.BadRequest,
        `Malformed header field on line ${i + 1}`,
      );
    }
    const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, "");
    if (!FIELD_VALUE.test(value)) {
      throw new HandshakeError(
        HttpStatus.BadRequest,
        `Invalid characters in header field ${name}`,
      );
    }
    headers.append(name, value);
  }
  return headers;
}

/**
 * Encodes an HTTP head: a start line, header fields and the final blank line.
 *
 * Names and values must be valid field names and values (as a `Headers` object
 * guarantees); characters are written one byte each.
 *
 * @example
 * ```ts
 * import { encodeHead } from "./http_parse.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeHead("HTTP/1.1 403 Forbidden", [["Content-Length", "0"]]);
 * assertEquals(
 *   new TextDecoder().decode(bytes),
 *   "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
 * );
 * ```
 *
 * @param startLine The request or status line, without CRLF.
 * @param fields The header fields, in order.
 * @param body Bytes to append after the head.
 * @returns The encoded head, followed by `body`.
 */
export function encodeHead(
  startLine: string,
  fields: Iterable<readonly [string, string]>,
  body?: Uint8Array,
): Uint8Array {
  let text = `${startLine}\r\n`;
  for (const [name, value] of fields) text += `${name}: ${value}\r\n`;
  text += "\r\n";
  const bytes = new Uint8Array(text.length + (body?.length ?? 0));
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new TypeError("HTTP head has a character outside latin1");
    }
    bytes[i] = c;
  }
  if (body !== undefined) bytes.set(body, text.length);
  return bytes;
}
