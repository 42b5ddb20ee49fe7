/**
 * The connection limit of {@linkcode serve} and `createNodeServer`: how a
 * connection past it is answered (503 with `Retry-After`) and let go, without
 * holding up the listener.
 *
 * @module
 */

import { encodeRejection, Rejection } from "../handshake/rejection.ts";

/**
 * How long a turned-away socket may take to read its answer, in ms.
 *
 * @example
 * ```ts
 * import { TURN_AWAY_MS } from "./connection_limit.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(TURN_AWAY_MS, 1_000);
 * ```
 */
export const TURN_AWAY_MS = 1_000;
/** The most a turned-away client may send before its socket is closed. */
const TURN_AWAY_DRAIN_BYTES = 64 * 1024;

/**
 * Checks a `maxConnections` / `retryAfter` pair and encodes the answer past the
 * limit, once per server; `null` when there is no limit.
 *
 * @param maxConnections The limit: a positive integer, or undefined for none.
 * @param retryAfter The `Retry-After` value, in seconds (default 1).
 * @returns The 503 answer's bytes, or `null`.
 * @throws {RangeError} For a limit or delay that is not a non-negative integer
 * (the limit at least 1).
 *
 * @example
 * ```ts
 * import { busyAnswer } from "./connection_limit.ts";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * assertEquals(busyAnswer(undefined), null);
 * const head = new TextDecoder().decode(busyAnswer(100, 5)!);
 * assertStringIncludes(head, "HTTP/1.1 503 Service Unavailable\r\n");
 * assertStringIncludes(head.toLowerCase(), "retry-after: 5\r\n");
 * ```
 */
export function busyAnswer(
  maxConnections: number | undefined,
  retryAfter = 1,
): Uint8Array | null {
  if (!Number.isInteger(retryAfter) || retryAfter < 0) {
    throw new RangeError(
      `retryAfter must be a non-negative integer, got ${retryAfter}`,
    );
  }
  if (maxConnections === undefined || maxConnections === Infinity) return null;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(
      `maxConnections must be a positive integer, got ${maxConnections}`,
    );
  }
  return encodeRejection(
    new Rejection(503, {
      headers: { "Retry-After": String(retryAfter) },
      body: "Too many connections",
    }),
  );
}

/**
 * Answers a socket past the limit and closes it: the answer is written first,
 * then what the client sent is read and dropped (so that closing does not reset
 * the connection before the client has read the answer) until it closes, up to
 * 64 KiB and {@linkcode TURN_AWAY_MS}.
 *
 * @param socket The accepted socket; closed when this resolves.
 * @param answer The bytes of {@linkcode busyAnswer}.
 *
 * @example In an accept loop
 * ```ts ignore
 * if (serving >= limit) turnAway(await listener.accept(), busyAnswer(limit)!);
 * ```
 */
export async function turnAway(
  socket: Deno.Conn,
  answer: Uint8Array,
): Promise<void> {
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  };
  const timer = setTimeout(close, TURN_AWAY_MS);
  try {
    for (let at = 0; at < answer.length;) {
      at += await socket.write(answer.subarray(at));
    }
    await socket.closeWrite();
    const scratch = new Uint8Array(4096);
    for (let total = 0; total < TURN_AWAY_DRAIN_BYTES;) {
      const n = await socket.read(scratch);
      if (n === null) break;
      total += n;
    }
  } catch {
    // The client went away, or the time ran out and closed the socket.
  } finally {
    clearTimeout(timer);
    close();
  }
}
