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

/** A masked "hello" text frame. */
const HELLO = Uint8Array.of(
  0x81,
  0x85,
  1,
  2,
  3,
  4,
  0x69,
  0x67,
  0x6f,
  0x68,
  0x6e,
);
const NEVER = new Promise<number | null>(() => {});

/** Delivers one "hello" frame, then waits forever; writes vanish. */
class IdleTransport {
  #pending: Uint8Array | null = HELLO;
  get readable(): ReadableStream<Uint8Array> {
    throw new Error("direct reads only");
  }
  get writable(): WritableStream<Uint8Array> {
    throw new Error("direct writes only");
  }
  read(p: Uint8Array): Promise<number | null> {
    const pending = this.#pending;
    if (pending === null) return NEVER;
    p.set(pending);
    this.#pending = null;
    return Promise.resolve(pending.length);
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  close(): void {}
}

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
