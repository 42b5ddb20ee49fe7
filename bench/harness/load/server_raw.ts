/**
 * The ceiling: a length-prefixed echo on `Deno.Conn` (a 32-bit big-endian length,
 * then the payload). Each read's complete messages go back in one write; a message
 * larger than the read buffer is read straight into a buffer of its own and
 * written back whole, as the WebSocket connection does.
 *
 * @module
 */

import { announce } from "../_process.ts";
import { Flags } from "../_args.ts";

new Flags().done();

const BUFFER = 64 * 1024;

async function echo(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(BUFFER);
  let big = new Uint8Array(0);
  let end = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(end));
    if (n === null) return;
    end += n;
    let at = 0;
    while (end - at >= 4) {
      const length = ((buf[at] << 24) | (buf[at + 1] << 16) |
        (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
      if (4 + length <= end - at) {
        at += 4 + length;
        continue;
      }
      if (4 + length <= BUFFER) break;
      // Larger than the buffer: flush what is complete, then gather this one.
      if (at > 0) await writeAll(conn, buf.subarray(0, at));
      if (big.length < 4 + length) big = new Uint8Array(4 + length);
      big.set(buf.subarray(at, end));
      let filled = end - at;
      while (filled < 4 + length) {
        const m = await conn.read(big.subarray(filled, 4 + length));
        if (m === null) return;
        filled += m;
      }
      await writeAll(conn, big.subarray(0, 4 + length));
      at = end = 0;
      break;
    }
    if (at > 0) {
      await writeAll(conn, buf.subarray(0, at));
      buf.copyWithin(0, at, end);
      end -= at;
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(at === 0 ? bytes : bytes.subarray(at));
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
announce(listener.addr.port);
for await (const conn of listener) {
  echo(conn).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  });
}
