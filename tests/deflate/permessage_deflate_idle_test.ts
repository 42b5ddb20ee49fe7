/**
 * What an idle permessage-deflate connection holds beyond its base connection,
 * after one small echo (nothing compressed either way): the heap it costs,
 * counted over in-memory connections (objects only, no timing).
 */

import { assert } from "@std/assert";
import { Rsv } from "../../src/codec/header.ts";
import { wrapDeflate } from "../../src/deflate/wrap.ts";
import { echoOnce, heapPerConn, idleConn } from "../_heap.ts";

const OPTIONS = {
  rsvAllowed: Rsv.Rsv1,
  extensions: "permessage-deflate; client_max_window_bits=15",
};

Deno.test("an idle deflate connection after one small echo costs under 480 B of heap beyond its base (557 when it kept its own settings, params and message)", async () => {
  const base = await heapPerConn(async () => {
    const conn = idleConn(OPTIONS);
    await echoOnce(conn);
    conn.readMessage().catch(() => {});
    return conn;
  });
  const wrapped = await heapPerConn(async () => {
    const conn = wrapDeflate(idleConn(OPTIONS));
    await echoOnce(conn);
    conn.readMessage().catch(() => {});
    return conn;
  });
  const cost = wrapped - base;
  assert(cost > 0 && cost < 480, `the decorator costs ${cost.toFixed(0)} B`);
});
