/**
 * Our echo server: `Deno.listen`, `accept()` and a `Conn` per connection, reading
 * each message in place and writing it back. Chunk size 4 KiB (the default
 * preset), read limit 16 MiB.
 *
 * Flags: `--deflate` negotiates permessage-deflate with the default engine
 * (`CompressionStream`), `--zlib` with the `node:zlib` engine; `--byob` reads
 * through the stream reader instead of `Deno.Conn.read`.
 *
 * The socket gets TCP_NODELAY, as `ws` and `Deno.serve` set it on theirs; `--nagle`
 * leaves it off, as `accept()` does today. (Without it, a frame larger than the
 * scratchpad goes out as a header write then a payload write, and Nagle's
 * algorithm holds the payload's tail until the peer's delayed ACK: about 40 ms per
 * message when one is in flight.)
 *
 * @module
 */

import { ReadLimit, type WebSocketConn } from "../../mod.ts";
import { accept } from "../../src/accept.ts";
import {
  deflateServerExtensions,
} from "../../src/deflate/extension_handler.ts";
import type { DeflateOptions } from "../../src/deflate/negotiate.ts";
import { wrapNegotiated } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { announce, deflate } from "./_server.ts";

const read = Deno.args.includes("--byob") ? "byob" : "auto";
const zlib = Deno.args.includes("--zlib");
const nagle = Deno.args.includes("--nagle");
const deflateOptions: DeflateOptions | null = zlib
  ? { engine: zlibEngine() }
  : deflate
  ? {}
  : null;

async function echo(tcp: Deno.TcpConn): Promise<void> {
  if (!nagle) tcp.setNoDelay(true);
  const base = await accept(tcp, {
    readLimit: ReadLimit.Large,
    read,
    extensionHandler: deflateOptions === null
      ? undefined
      : deflateServerExtensions(deflateOptions),
  });
  const conn: WebSocketConn = deflateOptions === null
    ? base
    : wrapNegotiated(base, deflateOptions);
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
