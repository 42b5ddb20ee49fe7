/**
 * Our echo server: `Deno.listen`, `accept()` and a connection per socket, reading
 * each message in place and writing it back. Chunk size 4 KiB (the default
 * preset), read limit 16 MiB. The socket is used as `accept()` leaves it (with
 * TCP_NODELAY, as `ws` and `Deno.serve` set it on theirs).
 *
 * Flags: `--deflate` negotiates permessage-deflate with the default engine
 * (`CompressionStream`), `--zlib` with the `node:zlib` engine; `--byob` reads
 * through the stream reader instead of `Deno.Conn.read`; `--chunk N` sets the
 * chunk size (read buffer and scratchpad) to N bytes; `--level N` sets the
 * zlib engine's compression level.
 *
 * @module
 */

import { accept, ReadLimit } from "@wsx/websocket";
import type { DeflateOption } from "../../../src/handshake/deflate_option.ts";
import { zlibEngine } from "@wsx/websocket/deflate";
import { announce } from "../_process.ts";
import { Flags } from "../_args.ts";

const flags = new Flags();
const read = flags.has("byob") ? "byob" : "auto";
const chunk = flags.number("chunk", NaN, 1);
const chunkSize = Number.isNaN(chunk) ? undefined : chunk;
const deflate = flags.has("deflate");
const level = flags.number("level", NaN, 0);
const deflateOption: DeflateOption = flags.has("zlib")
  ? {
    engine: zlibEngine(),
    ...(Number.isNaN(level) ? {} : { level }),
  }
  : deflate;
flags.done();

async function echo(tcp: Deno.TcpConn): Promise<void> {
  const conn = await accept(tcp, {
    readLimit: ReadLimit.Large,
    chunkSize,
    read,
    deflate: deflateOption,
  });
  try {
    for (;;) {
      const msg = await conn.readMessage();
      await conn.writeMessage(msg.opcode, msg.data);
    }
  } catch {
    conn.abort();
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
announce(listener.addr.port);
for await (const tcp of listener) echo(tcp).catch(() => {});
