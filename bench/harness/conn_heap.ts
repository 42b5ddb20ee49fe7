/**
 * JS heap per idle `Conn`, counted directly: `deno run -A --v8-flags=--expose-gc
 * bench/harness/conn_heap.ts [--connections N] [--chunk BYTES] [--exchange]
 * [--deflate] [--json]`.
 *
 * Builds N connections in this process over in-memory transports that read
 * directly (as a `Deno.Conn` does) and never deliver more: each connection waits
 * in `readMessage()`, as an idle one does. With `--exchange` each first echoes
 * one 5-byte message (the buffers a connection keeps once it has written count
 * too); with `--deflate`, permessage-deflate is negotiated (the default engine,
 * no context takeover on either side, as the echo server offers). Reports
 * `heapUsed` and `arrayBuffers` after `gc()`, before and after, over N: no
 * socket, no native resource, only what our objects cost.
 *
 * @module
 */

import { Conn, OpCode, Rsv, type WebSocketConn } from "@wsx/websocket";
import { wrapDeflate } from "@wsx/websocket/deflate";
import { Flags } from "./_args.ts";
import { HELLO, IdleTransport } from "../../tests/_idle_transport.ts";

async function open(
  chunkSize: number,
  exchange: boolean,
  deflate: boolean,
): Promise<WebSocketConn> {
  const base = new Conn(new IdleTransport(exchange ? HELLO : null), {
    role: "server",
    chunkSize,
    ...(deflate
      ? {
        rsvAllowed: Rsv.Rsv1,
        extensions:
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      }
      : {}),
  });
  const conn: WebSocketConn = deflate ? wrapDeflate(base) : base;
  if (exchange) {
    const msg = await conn.readMessage();
    await conn.writeMessage(OpCode.Text, msg.data);
  }
  conn.readMessage().catch(() => {});
  return conn;
}

function memory(): { heap: number; external: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  gc();
  gc();
  const m = Deno.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

/** Heap and external bytes per idle connection. */
export async function measure(
  n: number,
  chunkSize = 4096,
  exchange = false,
  deflate = false,
): Promise<{ heap: number; external: number }> {
  // Warm up: code compiled on first use is not counted.
  const warm = [];
  for (let i = 0; i < 50; i++) warm.push(await open(chunkSize, true, deflate));
  warm.length = 0;
  const before = memory();
  const conns: WebSocketConn[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(await open(chunkSize, exchange, deflate));
  }
  const after = memory();
  if (conns.length !== n) throw new Error("unreachable");
  return {
    heap: (after.heap - before.heap) / n,
    external: (after.external - before.external) / n,
  };
}

if (import.meta.main) {
  const flags = new Flags();
  const n = flags.number("connections", 10_000, 1);
  const chunk = flags.number("chunk", 4096, 64);
  const exchange = flags.has("exchange");
  const deflate = flags.has("deflate");
  const json = flags.has("json");
  flags.done();
  const r = await measure(n, chunk, exchange, deflate);
  if (json) console.log(JSON.stringify({ n, chunk, exchange, deflate, ...r }));
  else {
    console.log(
      `heap per idle Conn (${n}, ${chunk}-byte chunks${
        exchange ? ", one echo first" : ""
      }${deflate ? ", permessage-deflate" : ""}): ` +
        `${r.heap.toFixed(0)} B heap, ${r.external.toFixed(0)} B external`,
    );
  }
}
