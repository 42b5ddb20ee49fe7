/**
 * Ending HTTP/2 streams and sessions outside their own event callbacks.
 *
 * Deno 2.9.6's `node:http2` runs on nghttp2, and closing a session or stream
 * from inside one of its callbacks (or a microtask run in it) can crash the
 * process: a segfault when a session is destroyed in its `remoteSettings`
 * listener, an nghttp2 assertion in `find_stream_on_goaway_func`. Every close of
 * this module's goes through {@linkcode defer}, which waits for a macrotask.
 *
 * @module
 */

/**
 * Runs `fn` on a later macrotask, ignoring what it throws (the stream or session
 * may be gone by then, which is what closing it wanted).
 *
 * @example
 * ```ts
 * import { defer } from "./defer.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const order: string[] = [];
 * await new Promise<void>((resolve) => {
 *   defer(() => {
 *     order.push("later");
 *     resolve();
 *   });
 *   order.push("now");
 * });
 * assertEquals(order, ["now", "later"]);
 * ```
 *
 * @param fn What to run.
 */
export function defer(fn: () => void): void {
  setTimeout(() => {
    try {
      fn();
    } catch {
      // Already closed.
    }
  }, 0);
}
