/**
 * NodeSocketTransport over real `node:net` sockets on 127.0.0.1 (reads, the
 * prefix, the end, errors, writes, half-close, the streams, a `Conn` on top),
 * and over an in-process duplex for pausing above 64 KiB of unread bytes.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { Conn, OpCode } from "../../mod.ts";
import { NodeSocketTransport } from "../../src/io/node_socket.ts";
import { dec, enc } from "../_wire.ts";

interface SocketPair {
  /** The accepted end, under the transport. */
  accepted: Socket;
  /** The connecting end, played by the test. */
  peer: Socket;
  close(): Promise<void>;
}

/** A connected pair of `node:net` sockets on 127.0.0.1. */
async function socketPair(): Promise<SocketPair> {
  // Half-open allowed, as a WebSocket server's sockets are: a FIN ends reads only.
  const server: Server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  const { port } = server.address() as { port: number };
  const peer = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  peer.on("error", () => {}); // a reset after the test is not its failure
  await new Promise<void>((r) => peer.once("connect", r));
  return {
    accepted: await accepted,
    peer,
    close: async () => {
      peer.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Everything `socket` receives until it ends, or `ms` pass. */
function received(socket: Socket, ms = 3000): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    const done = () => {
      clearTimeout(timer);
      resolve(new Uint8Array(chunks.flatMap((c) => [...c])));
    };
    const timer = setTimeout(done, ms);
    socket.on("data", (c: Uint8Array) => chunks.push(c));
    socket.once("end", done);
    socket.once("close", done);
  });
}

Deno.test("NodeSocketTransport: the prefix first, then the socket's bytes; a read waits for data", async () => {
  const pair = await socketPair();
  const t = new NodeSocketTransport(pair.accepted, enc("head"));
  try {
    const buf = new Uint8Array(3);
    assertEquals(await t.read(buf), 3);
    assertEquals(dec(buf), "hea");
    assertEquals(await t.read(buf), 1, "the rest of the prefix");
    const big = new Uint8Array(16);
    const pending = t.read(big);
    await assertRejects(() => t.read(buf), TypeError, "a read is pending");
    pair.peer.write(enc("later"));
    let n = (await pending)!;
    assert(n >= 1);
    for (let i = 0; i < 10 && n < 5; i++) n += (await t.read(big.subarray(n)))!;
    assertEquals(dec(big.subarray(0, n)), "later");
  } finally {
    t.close();
    await pair.close();
  }
});

Deno.test("NodeSocketTransport: queued bytes are read before the end; then null", async () => {
  const pair = await socketPair();
  const t = new NodeSocketTransport(pair.accepted);
  try {
    pair.peer.end(enc("last words"));
    await new Promise((r) => setTimeout(r, 100));
    const buf = new Uint8Array(64);
    let text = "";
    let n: number | null;
    for (let i = 0; i < 10 && (n = await t.read(buf)) !== null; i++) {
      text += dec(buf.subarray(0, n));
    }
    assertEquals(text, "last words");
    assertEquals(await t.read(buf), null, "the end stays the end");
    assertEquals(await t.read(new Uint8Array(0)), null);
  } finally {
    t.close();
    await pair.close();
  }
});

Deno.test("NodeSocketTransport.write() settles once flushed; closeWrite() sends FIN, close() destroys", async () => {
  const pair = await socketPair();
  const t = new NodeSocketTransport(pair.accepted);
  try {
    const got = received(pair.peer);
    assertEquals(await t.write(enc("one ")), 4);
    assertEquals(await t.write(new Uint8Array(100_000).fill(0x61)), 100_000);
    await t.closeWrite();
    await t.closeWrite(); // a second time is harmless
    const bytes = await got;
    assertEquals(bytes.length, 100_004, "the peer got everything, then FIN");
    assertEquals(dec(bytes.subarray(0, 4)), "one ");
    // Half-closed: reading still works.
    pair.peer.write(enc("reply"));
    const buf = new Uint8Array(8);
    assertEquals(dec(buf.subarray(0, (await t.read(buf))!)), "reply");
    const err = await t.write(enc("x")).catch((e) => e);
    assertInstanceOf(err, Deno.errors.BrokenPipe);
  } finally {
    t.close();
    await pair.close();
  }
});

Deno.test("NodeSocketTransport.close() ends a pending read with null", async () => {
  const pair = await socketPair();
  const t = new NodeSocketTransport(pair.accepted);
  try {
    const pending = t.read(new Uint8Array(8));
    t.close();
    assertEquals(await pending, null);
    assert(pair.accepted.destroyed);
  } finally {
    await pair.close();
  }
});

Deno.test("NodeSocketTransport: a socket error rejects the pending read and later ones", async () => {
  const socket = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  const t = new NodeSocketTransport(socket);
  const pending = t.read(new Uint8Array(8));
  const failure = new Error("ECONNRESET");
  socket.emit("error", failure);
  assertEquals(await pending.catch((e) => e), failure);
  assertEquals(await t.read(new Uint8Array(8)).catch((e) => e), failure);
  socket.destroy();
});

Deno.test("NodeSocketTransport: a socket with an encoding set is an error, not text", async () => {
  const socket = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  const t = new NodeSocketTransport(socket);
  const pending = t.read(new Uint8Array(8));
  socket.emit("data", "text");
  const err = await pending.catch((e) => e);
  assertInstanceOf(err, TypeError);
  socket.destroy();
});

Deno.test("NodeSocketTransport pauses the socket above 64 KiB unread and resumes below 32 KiB", async () => {
  const calls: string[] = [];
  const socket = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  socket.pause = () => (calls.push("pause"), socket);
  socket.resume = () => (calls.push("resume"), socket);
  const t = new NodeSocketTransport(socket);
  calls.length = 0; // a "data" listener resumes the stream: not ours
  for (let i = 0; i < 16; i++) socket.emit("data", new Uint8Array(4096));
  assertEquals(calls, ["pause"], "64 KiB queued");
  socket.emit("data", new Uint8Array(4096));
  assertEquals(calls, ["pause"], "paused once");
  const buf = new Uint8Array(20_000);
  assertEquals(await t.read(buf), 20_000);
  assertEquals(calls, ["pause"], "48 KiB still unread");
  assertEquals(await t.read(buf), 20_000);
  assertEquals(calls, ["pause", "resume"], "below 32 KiB");
  t.close();
});

Deno.test("NodeSocketTransport streams: BYOB reads from readable, writes through writable", async () => {
  const pair = await socketPair();
  const t = new NodeSocketTransport(pair.accepted, enc("pre"));
  try {
    const reader = t.readable.getReader({ mode: "byob" });
    const first = await reader.read(new Uint8Array(16));
    assertEquals(dec(first.value!), "pre");
    pair.peer.write(enc("fix"));
    const second = await reader.read(new Uint8Array(16));
    assertEquals(dec(second.value!), "fix");
    const got = received(pair.peer);
    const writer = t.writable.getWriter();
    await writer.write(enc("streamed"));
    await writer.close();
    assertEquals(dec(await got), "streamed");
    pair.peer.end();
    const end = await reader.read(new Uint8Array(16));
    assertEquals(end.done, true);
  } finally {
    t.close();
    await pair.close();
  }
});

Deno.test("NodeSocketTransport carries a Conn both ways, direct reads and byob", async () => {
  for (const read of ["auto", "byob"] as const) {
    const pair = await socketPair();
    const serverSide = new Conn(new NodeSocketTransport(pair.accepted), {
      role: "server",
      read,
    });
    const clientSide = new Conn(new NodeSocketTransport(pair.peer), {
      role: "client",
      read,
    });
    try {
      const data = new Uint8Array(50_000).map((_, i) => i);
      await clientSide.writeMessage(OpCode.Binary, data);
      const msg = await serverSide.readMessage();
      assertEquals(msg.data, data, read);
      await serverSide.writeMessage(OpCode.Text, "back");
      assertEquals(dec((await clientSide.readMessage()).data), "back");
      const closing = serverSide.readMessage().catch((e) => e);
      await clientSide.close(1000);
      await closing;
      assertEquals((await serverSide.closed).code, 1000);
    } finally {
      clientSide.abort();
      serverSide.abort();
      await pair.close();
    }
  }
});
