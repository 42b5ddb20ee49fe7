/**
 * A ping flood over loopback TCP from a peer that never reads its pongs: the
 * pongs the connection owes collapse to the latest (RFC 6455 §5.5.3) and the
 * reader stops once the writer cannot drain, so the flood waits in the kernel
 * (TCP backpressure) instead of in our memory. Once the peer reads, it gets a
 * pong for its latest ping.
 */

import { assert, assertEquals } from "@std/assert";
import { Conn } from "../../mod.ts";
import { tcpPair } from "../_pair.ts";

const PAYLOAD = 125;
/** A masked ping with a 125-byte payload: 2 + 4 + 125 bytes. */
const PING_BYTES = 2 + 4 + PAYLOAD;
/** An unmasked pong with a 125-byte payload. */
const PONG_BYTES = 2 + PAYLOAD;
const PER_WRITE = 64;
/** The flood's bound: 400,000 pings, 52 MB, far more than the kernel buffers hold. */
const MAX_PINGS = 400_000;

/** `PER_WRITE` masked pings numbered from `first` (the number in their first 4 bytes). */
function pings(first: number): Uint8Array {
  const out = new Uint8Array(PER_WRITE * PING_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < PER_WRITE; i++) {
    const at = i * PING_BYTES;
    out[at] = 0x89;
    out[at + 1] = 0x80 | PAYLOAD;
    // Mask key 0: the payload reads as it is written.
    view.setUint32(at + 6, first + i);
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let n = 0;
  while (n < bytes.length) n += await conn.write(bytes.subarray(n));
}

/** Settles within `ms`, or tells that it did not. */
async function settlesWithin(p: Promise<unknown>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a ping flood from a peer that reads nothing stays in the kernel, and the latest ping gets its pong", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server" });
  const reading = server.readMessage().catch((err) => err);
  let sent = 0;
  let stalled: Promise<void> | null = null;
  let most = 0;
  while (sent < MAX_PINGS) {
    const write = writeAll(tcp.client, pings(sent));
    sent += PER_WRITE;
    most = Math.max(most, server.bufferedAmount);
    // A write that waits 3.5 s is backpressure, not a busy machine.
    if (
      !await settlesWithin(write, 500) && !await settlesWithin(write, 3000)
    ) {
      stalled = write;
      break;
    }
  }
  most = Math.max(most, server.bufferedAmount);
  assert(stalled !== null, `all ${sent} pings were taken: nothing pushed back`);
  // At most both scratchpads and two owed pongs (one taken, one waiting);
  // before the fix, every unsent pong waited in the writer's queue.
  const bound = 2 * (server.chunkSize + 14) + 2 * PAYLOAD;
  assert(most <= bound, `${most} bytes buffered, over ${bound}`);

  // Now the peer reads: the flood drains and the latest ping is answered.
  const last = sent - 1;
  const buf = new Uint8Array(1 << 20);
  const carry = new Uint8Array(PONG_BYTES);
  let held = 0;
  let pongs = 0;
  let previous = -1;
  const deadline = Date.now() + 20_000;
  while (previous !== last && Date.now() < deadline) {
    const n = await tcp.client.read(buf);
    if (n === null) break;
    for (let at = 0; at < n;) {
      const take = Math.min(PONG_BYTES - held, n - at);
      carry.set(buf.subarray(at, at + take), held);
      held += take;
      at += take;
      if (held < PONG_BYTES) break;
      held = 0;
      assertEquals([carry[0], carry[1]], [0x8a, PAYLOAD]);
      const index = new DataView(carry.buffer).getUint32(2);
      assert(index > previous, `pong ${index} after ${previous}`);
      previous = index;
      pongs++;
    }
  }
  await stalled;
  assertEquals(previous, last);
  assert(pongs < sent, `${pongs} pongs for ${sent} pings: none collapsed`);
  assertEquals(server.bufferedAmount, 0);
  tcp.client.close();
  await reading;
});
