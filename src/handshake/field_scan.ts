/**
 * Header fields of a head still being read, one complete line at a time, so that
 * a hook can refuse a request as soon as a field arrives. Pure.
 *
 * @module
 */

import { isToken } from "../codec/http_token.ts";

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;

/**
 * Reports each complete field line of `buf[from..to)` to `onField` (the name in
 * lower case, the value without surrounding blanks), skipping the start line
 * when `from` is 0 and any line that is not `token ":" value` (the parser refuses
 * those once the head is complete).
 *
 * @example A head arriving in two pieces
 * ```ts
 * import { scanFields } from "./field_scan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const seen: string[] = [];
 * const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\nX-Key:  v \r\nUs");
 * const next = scanFields(head, 0, head.length, (n, v) => void seen.push(`${n}=${v}`));
 * assertEquals(seen, ["host=a", "x-key=v"]);
 * assertEquals(next, head.length - 2); // "Us" waits for the rest of its line
 * ```
 *
 * @param buf The head's bytes so far.
 * @param from Where the first unscanned line starts (0 before the start line).
 * @param to Where the head's bytes end: the blank line is never passed in.
 * @param onField Called per field; may throw to stop the read.
 * @returns Where the next unscanned line starts.
 */
export function scanFields(
  buf: Uint8Array,
  from: number,
  to: number,
  onField: (name: string, value: string) => void,
): number {
  let at = from;
  for (;;) {
    const end = lineEnd(buf, at, to);
    if (end < 0) return at;
    if (at > 0 && end > at) reportField(buf, at, end, onField);
    at = end + 2;
  }
}

function reportField(
  buf: Uint8Array,
  start: number,
  end: number,
  onField: (name: string, value: string) => void,
): void {
  const colon = buf.indexOf(COLON, start);
  if (colon < 0 || colon >= end) return;
  const name = latin1(buf, start, colon);
  if (!isToken(name)) return;
  const value = latin1(buf, colon + 1, end).replace(/^[\t ]+|[\t ]+$/g, "");
  onField(name.toLowerCase(), value);
}

function lineEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) {
    if (buf[i] === CR && buf[i + 1] === LF) return i;
  }
  return -1;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(buf[i]);
  return text;
}
