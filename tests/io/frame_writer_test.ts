/**
 * Replies to messages that arrived in one read go out in one transport write,
 * and a reply is never held back for long when the reader stops reading.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { Conn, OpCode } from "../../mod.ts";
import { tcpPair } from "../_pair.ts";

/** A `Deno.Conn` whose writes are counted. */
class CountingConn {
  writes = 0;
  #conn: Deno.TcpConn;
  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }
  get readable(): ReadableStream<Uint8Array> {
    return this.#conn.readable;
  }
  get writable(): WritableStream<Uint8Array> {
    return this.#conn.writable;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.#conn.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    this.writes++;
    return this.#conn.write(p);
  }
  close(): void {
    this.#conn.close();
  }
}

/** `count` masked binary frames of one byte each (the byte is the index). */
function frames(count: number): Uint8Array {
  const out = new Uint8Array(count * 7);
  for (let i = 0; i < count; i++) {
    out.set([0x82, 0x81, 0, 0, 0, 0, i], i * 7);
  }
  return out;
}

/** Reads from `tcp` until `length` bytes came; fails after `ms`. */
async function readBytes(
  tcp: Deno.Conn,
  length: number,
  ms: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Nothing for ${ms} ms`)), ms);
  });
  try {
    for (let got = 0; got < length;) {
      const n = await Promise.race([tcp.read(out.subarray(got)), timeout]);
      if (n === null) throw new Error("Closed early");
      got += n;
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("echoes of ten messages read at once leave in one write", async () => {
  const { client, server } = await tcpPair();
  const counting = new CountingConn(server);
  const conn = new Conn(counting, { role: "server" });
  try {
    await client.write(frames(10));
    for (let i = 0; i < 10; i++) {
      const msg = await conn.readMessage();
      assertEquals([...msg.data], [i]);
      await conn.writeMessage(OpCode.Binary, msg.data);
    }
    const echoed = await readBytes(client, 30, 5000);
    for (let i = 0; i < 10; i++) {
      assertEquals([...echoed.subarray(i * 3, i * 3 + 3)], [0x82, 1, i]);
    }
    assertEquals(counting.writes, 1);
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a reply goes out though the reader stops before the batch ends", async () => {
  const { client, server } = await tcpPair();
  const conn = new Conn(server, { role: "server" });
  try {
    await client.write(frames(3));
    const msg = await conn.readMessage();
    await conn.writeMessage(OpCode.Binary, msg.data);
    // No further read: the reply must not wait for one.
    assertEquals([...await readBytes(client, 3, 5000)], [0x82, 1, 0]);
  } finally {
    conn.abort();
    client.close();
  }
});

Deno.test("a 64 KiB client message leaves in one write, masked intact", async () => {
  const { client, server } = await tcpPair();
  const counting = new CountingConn(client);
  const sender = new Conn(counting, { role: "client" });
  const receiver = new Conn(server, { role: "server", readLimit: 1 << 20 });
  try {
    const payload = new Uint8Array(65536).map((_, i) => i * 7);
    const [, msg] = await Promise.all([
      sender.writeMessage(OpCode.Binary, payload),
      receiver.readMessage(),
    ]);
    assertEquals(msg.data, payload);
    assertEquals(counting.writes, 1);
  } finally {
    sender.abort();
    receiver.abort();
  }
});
