/**
 * Regression tests for the bugs the fuzzer found, each as a plain test over the
 * transport where it showed.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { Conn, OpCode, type Transport, WebSocketError } from "../../mod.ts";
import { frame, parseFrames, readToEnd, tcpPair } from "../_pair.ts";
import { sameBytes } from "../_wire.ts";
import { check, frameCase, runInMemory } from "./_run.ts";

Deno.test("pongs carry their own ping's payload when pings exceed a 64-byte chunk", async () => {
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, { role: "server", chunkSize: 64 });
  const pings = [98, 71, 62, 125].map((n, i) => new Uint8Array(n).fill(i + 1));
  // All pings in one write: each pong is queued while the next ping is read.
  const bytes = pings.map((p) => frame(0x89, p));
  await tcp.client.write(new Uint8Array(bytes.flatMap((b) => [...b])));
  await tcp.client.write(frame(0x88, new Uint8Array([0x03, 0xe8])));
  await assertRejects(() => server.readMessage());
  const { bytes: got } = await readToEnd(tcp.client, 3000);
  const pongs = parseFrames(got).filter((f) => f.opcode === 0xa);
  // Each pong is its own ping's, in order; an unsent pong may give way to a
  // later ping's (RFC 6455 §5.5.3), and the last ping is always answered.
  let next = 0;
  for (const pong of pongs) {
    const at = pings.findIndex((p, i) =>
      i >= next && sameBytes(p, pong.payload)
    );
    assert(at >= 0, `a pong that is no ping's: ${pong.payload}`);
    next = at + 1;
  }
  assertEquals(next, pings.length);
  tcp.client.close();
});

Deno.test("a transport failing after a short write fails writes once, with no unhandled rejection", async () => {
  let calls = 0;
  const transport: Transport & {
    read(p: Uint8Array): Promise<number | null>;
    write(p: Uint8Array): Promise<number>;
    close(): void;
  } = {
    readable: new ReadableStream(),
    writable: new WritableStream(),
    read: () => new Promise(() => {}),
    write: () =>
      ++calls === 1
        ? Promise.resolve(1)
        : Promise.reject(new Deno.errors.ConnectionReset("reset")),
    close: () => {},
  };
  const conn = new Conn(transport, { role: "server" });
  await conn.writeMessage(OpCode.Binary, new Uint8Array(10));
  const err = await conn.flush().then(() => null, (e) => e);
  assertInstanceOf(err, WebSocketError);
  assertEquals(err.code, "closed");
  assertInstanceOf(err.cause, Deno.errors.ConnectionReset);
  await assertRejects(
    () => conn.writeMessage(OpCode.Text, "later"),
    WebSocketError,
  );
  assertEquals(calls, 2);
  conn.abort();
});

Deno.test("the fuzz seeds that found them pass", async () => {
  // Seed 21 found the pong corruption; the short-write failure showed under many.
  for (const seed of [21, 4, 10, 13, 26]) {
    const c = frameCase(seed, false);
    check(c, await runInMemory(c));
  }
});
