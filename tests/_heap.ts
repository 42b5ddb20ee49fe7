/**
 * Heap per idle connection, for tests that hold a memory saving in place:
 * connections over in-memory transports that read directly (as a `Deno.Conn`
 * does), each echoing one message, then waiting in a read; the JS heap after a
 * full garbage collection, over their count. Counts objects only (no socket,
 * no timing): the same code gives the same figure within a few bytes.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";
import { Conn, type ConnOptions } from "../src/conn/conn.ts";
import type { WebSocketConn } from "../src/conn/websocket_conn.ts";
import { IdleTransport } from "./_idle_transport.ts";

let collect: (() => void) | undefined;

function heapUsed(): number {
  if (collect === undefined) {
    v8.setFlagsFromString("--expose-gc");
    collect = vm.runInNewContext("gc") as () => void;
  }
  collect();
  collect();
  return Deno.memoryUsage().heapUsed;
}

/** A server `Conn` over an idle in-memory transport whose peer sends one "hello". */
export function idleConn(options: Partial<ConnOptions> = {}): Conn {
  return new Conn(new IdleTransport(), { role: "server", ...options });
}

/**
 * Heap bytes per connection that `start` sets going (and keeps alive by
 * returning): `n` of them, after a warm-up of the same.
 *
 * @param start Opens one connection and leaves it waiting; what it returns is held.
 */
export async function heapPerConn(
  start: () => Promise<unknown>,
  n = 2000,
): Promise<number> {
  const warm = [];
  for (let i = 0; i < 100; i++) warm.push(await start());
  warm.length = 0;
  const held: unknown[] = [];
  const before = heapUsed();
  for (let i = 0; i < n; i++) held.push(await start());
  const after = heapUsed();
  if (held.length !== n) throw new Error("unreachable");
  return (after - before) / n;
}

/** Reads the one message of `conn` and echoes it. */
export async function echoOnce(conn: WebSocketConn): Promise<void> {
  const msg = await conn.readMessage();
  await conn.writeMessage(msg.opcode, msg.data);
}
