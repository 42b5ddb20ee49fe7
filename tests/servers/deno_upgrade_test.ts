import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { CloseCode } from "../../src/codec/close_code.ts";
import {
  upgradeWebSocket,
  type UpgradeWebSocketOptions,
} from "../../src/servers/deno_upgrade.ts";
import type { DenoWebSocketConn } from "../../src/servers/deno_websocket_conn.ts";
import { dial } from "../../src/handshake/dial.ts";
import { CloseError, WebSocketError } from "../../src/codec/errors.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { PreparedMessage } from "../../src/conn/prepared_message.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { dec, enc } from "../_wire.ts";

/**
 * A Deno.serve server whose upgrades go through upgradeWebSocket; each
 * connection is handed to `handler`, and its outcome is kept.
 */
function start(
  handler: (conn: DenoWebSocketConn) => Promise<void>,
  options: UpgradeWebSocketOptions = {},
) {
  const done: Promise<unknown>[] = [];
  const conns: DenoWebSocketConn[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      if (req.headers.get("upgrade") !== "websocket") {
        return new Response("not a WebSocket", { status: 400 });
      }
      const { response, conn } = upgradeWebSocket(req, options);
      conns.push(conn);
      done.push(handler(conn).then(() => "ok", (err) => err));
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    conns,
    /** The handlers' outcomes: "ok" or what they threw. */
    outcomes: () => Promise.all(done),
    stop: () => server.shutdown(),
  };
}

async function echo(conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
}

Deno.test("upgradeWebSocket() echoes through the message-level API with our client", async () => {
  const s = start(echo);
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "héllo");
    let msg = await conn.readMessage();
    assertEquals([msg.opcode, dec(msg.data)], [OpCode.Text, "héllo"]);
    const bin = new Uint8Array(300_000).map((_, i) => i % 251);
    await conn.writeMessage(OpCode.Binary, bin);
    msg = await conn.readMessage();
    assertEquals(msg.opcode, OpCode.Binary);
    assertEquals(msg.data, bin);
    await conn.close(CloseCode.NormalClosure, "done");
    assertEquals(await s.outcomes(), ["ok"]);
    assertEquals(await s.conns[0].closed, {
      code: CloseCode.NormalClosure,
      reason: "done",
    });
  } finally {
    await s.stop();
  }
});

Deno.test("readMessage(buf) fills the caller's buffer, text and binary", async () => {
  const views: boolean[] = [];
  const s = start(async (conn) => {
    const buf = new Uint8Array(1024);
    for (let i = 0; i < 2; i++) {
      const msg = await conn.readMessage(buf);
      views.push(msg.data.buffer === buf.buffer);
      await conn.writeMessage(msg.opcode, msg.data);
    }
  });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "into buf ✓");
    await conn.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3]));
    assertEquals(dec((await conn.readMessage()).data), "into buf ✓");
    assertEquals((await conn.readMessage()).data, new Uint8Array([1, 2, 3]));
    assertEquals(views, [true, true]);
    await conn.close();
  } finally {
    await s.stop();
  }
});

Deno.test("upgradeWebSocket() talks to Deno's built-in client and picks a subprotocol", async () => {
  const s = start(echo, { protocols: ["v2", "v1"] });
  try {
    const ws = new WebSocket(s.url, ["v1", "v3"]);
    ws.binaryType = "arraybuffer";
    const got: unknown[] = [];
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.onopen = () => {
      ws.send("text");
      ws.send(new Uint8Array([9, 8]));
    };
    ws.onmessage = (e) => {
      got.push(
        typeof e.data === "string" ? e.data : [...new Uint8Array(e.data)],
      );
      if (got.length === 2) ws.close(4000, "enough");
    };
    const ev = await closed;
    assertEquals(ws.protocol, "v1");
    assertEquals(s.conns[0].protocol, "v1");
    assertEquals(got, ["text", [9, 8]]);
    assertEquals([ev.code, ev.reason], [4000, "enough"]);
  } finally {
    await s.stop();
  }
});

Deno.test("a message over the read limit closes with 1009", async () => {
  const s = start(async (conn) => {
    await conn.readMessage();
  }, { readLimit: 1000 });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Binary, new Uint8Array(1001));
    const err = await assertRejects(() => conn.readMessage());
    assertInstanceOf(err, CloseError);
    assertEquals(err.code, CloseCode.MessageTooBig);
    const [outcome] = await s.outcomes();
    assertInstanceOf(outcome, WebSocketError);
    assertEquals((outcome as WebSocketError).code, "message_too_big");
  } finally {
    await s.stop();
  }
});

Deno.test("text over the read limit, and a message bigger than buf, close with 1009", async () => {
  const s = start(async (conn) => {
    const small = new Uint8Array(8);
    const ok = await conn.readMessage(small);
    assertEquals(dec(ok.data), "12345678");
    await conn.readMessage(small);
  }, { readLimit: 100 });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "12345678");
    await conn.writeMessage(OpCode.Text, "123456789");
    const err = await assertRejects(() => conn.readMessage());
    assertInstanceOf(err, CloseError);
    assertEquals(err.code, CloseCode.MessageTooBig);
    const [outcome] = await s.outcomes();
    assertEquals((outcome as WebSocketError).code, "buffer_too_small");

    const s2 = start(async (conn) => {
      await conn.readMessage();
    }, { readLimit: 100 });
    const c2 = await dial(s2.url);
    await c2.writeMessage(OpCode.Text, "é".repeat(51)); // 102 bytes
    assertEquals(
      ((await assertRejects(() => c2.readMessage())) as CloseError).code,
      CloseCode.MessageTooBig,
    );
    assertEquals(
      ((await s2.outcomes())[0] as WebSocketError).code,
      "message_too_big",
    );
    await s2.stop();
  } finally {
    await s.stop();
  }
});

Deno.test("the client's close ends reads with CloseError and iteration quietly", async () => {
  const seen: unknown[] = [];
  const s = start(async (conn) => {
    const err = await conn.readMessage().catch((e) => e);
    seen.push(err);
    // After the close, iteration ends at once.
    for await (const _ of conn) seen.push("unexpected");
    seen.push(await conn.closed);
  });
  try {
    const conn = await dial(s.url);
    await conn.close(4001, "client leaves");
    await s.outcomes();
    const closeError = seen[0] as CloseError;
    assertInstanceOf(closeError, CloseError);
    assertEquals([closeError.code, closeError.reason], [4001, "client leaves"]);
    assertEquals(seen[1], { code: 4001, reason: "client leaves" });
  } finally {
    await s.stop();
  }
});

Deno.test("the server's close reaches the client with its code, and later writes fail", async () => {
  let writeAfter: unknown;
  const s = start(async (conn) => {
    await conn.writeMessage(OpCode.Text, "written before open completes");
    await conn.close(CloseCode.GoingAway, "restarting");
    writeAfter = await conn.writeMessage(OpCode.Text, "late").catch((e) => e);
  });
  try {
    const conn = await dial(s.url);
    assertEquals(
      dec((await conn.readMessage()).data),
      "written before open completes",
    );
    const err = await assertRejects(() => conn.readMessage());
    assertInstanceOf(err, CloseError);
    assertEquals([err.code, err.reason], [CloseCode.GoingAway, "restarting"]);
    await s.outcomes();
    assertInstanceOf(writeAfter, WebSocketError);
    assertEquals((writeAfter as WebSocketError).code, "closed");
  } finally {
    await s.stop();
  }
});

Deno.test("messages that arrive before a read queue up in order", async () => {
  const s = start(async (conn) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      got.push(dec((await conn.readMessage()).data));
    }
    await conn.writeMessage(OpCode.Text, got.join(","));
  });
  try {
    const conn = await dial(s.url);
    for (let i = 0; i < 5; i++) await conn.writeMessage(OpCode.Text, `m${i}`);
    assertEquals(dec((await conn.readMessage()).data), "m0,m1,m2,m3,m4");
    await conn.close();
  } finally {
    await s.stop();
  }
});

Deno.test("the stated limits: no ping, streams gathered, prepared re-encoded, one read at a time", async () => {
  const checks: unknown[] = [];
  const s = start(async (conn) => {
    checks.push(await conn.ping().catch((e) => e));
    const pending = conn.readMessage();
    checks.push(await conn.readMessage().catch((e) => e));
    await pending;
    checks.push(
      await conn.writeMessage(OpCode.Text, new Uint8Array([0xff])).catch((e) =>
        e
      ),
    );
    await conn.streamMessage(
      OpCode.Binary,
      ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]),
    );
    await conn.writePrepared(new PreparedMessage(OpCode.Text, "prepared"));
    await conn.flush();
    checks.push(conn.bufferedAmount);
    await conn.close();
  });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "go");
    const streamed = await conn.readMessage();
    assertEquals(streamed.data, new Uint8Array([1, 2, 3]));
    assertEquals(dec((await conn.readMessage()).data), "prepared");
    await assertRejects(() => conn.readMessage(), CloseError);
    await s.outcomes();
    assertInstanceOf(checks[0], TypeError);
    assertInstanceOf(checks[1], TypeError);
    assertInstanceOf(checks[2], TypeError);
    assertEquals(checks[3], 0);
    assertEquals(s.conns[0].extensions, "");
  } finally {
    await s.stop();
  }
});

Deno.test("abort() resolves closed with 1006 and fails the pending read", async () => {
  let pending: Promise<unknown> | undefined;
  const s = start(async (conn) => {
    await conn.readMessage();
    pending = conn.readMessage().catch((e) => e);
    conn.abort();
  });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "x");
    await s.outcomes();
    assertEquals((await s.conns[0].closed).code, CloseCode.AbnormalClosure);
    const err = await pending as WebSocketError;
    assertInstanceOf(err, WebSocketError);
    assertEquals(err.code, "closed");
    // The client still hears a close frame.
    const closed = await conn.readMessage().catch((e) => e);
    assertInstanceOf(closed, CloseError);
    assertEquals(closed.code, CloseCode.GoingAway);
  } finally {
    await s.stop();
  }
});

Deno.test("close() refuses invalid codes and reasons", async () => {
  const errors: unknown[] = [];
  const s = start(async (conn) => {
    errors.push(await conn.close(1005).catch((e) => e));
    errors.push(await conn.close(1000, "x".repeat(124)).catch((e) => e));
    await conn.close();
  });
  try {
    const conn = await dial(s.url);
    await assertRejects(() => conn.readMessage(), CloseError);
    await s.outcomes();
    assert(errors.every((e) => e instanceof RangeError));
    assertEquals(errors.length, 2);
  } finally {
    await s.stop();
  }
});

Deno.test("the same handler code runs over serve-style Conn and the Deno adapter", async () => {
  // Message-level code written against WebSocketConn needs no change.
  const upper = async (conn: WebSocketConn) => {
    for await (const msg of conn) {
      await conn.writeMessage(OpCode.Text, dec(msg.data).toUpperCase());
    }
  };
  const s = start(upper);
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "shout");
    assertEquals(dec((await conn.readMessage()).data), "SHOUT");
    await conn.writeMessage(OpCode.Binary, enc("bytes too"));
    assertEquals(dec((await conn.readMessage()).data), "BYTES TOO");
    await conn.close();
  } finally {
    await s.stop();
  }
});

/** Rejects when `promise` takes longer than `ms`, so a missing close fails fast. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No ${what} in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A handler that reads nothing until the connection has closed, then once. */
async function readAfterClose(conn: DenoWebSocketConn): Promise<void> {
  await conn.closed;
  await conn.readMessage();
}

Deno.test("a message over the read limit closes with 1009 when it arrives, unread", async () => {
  const s = start(readAfterClose, { readLimit: 1000 });
  try {
    const conn = await dial(s.url);
    await conn.writeMessage(OpCode.Text, "é".repeat(501)); // 1,002 bytes
    const err = await within(
      conn.readMessage().catch((e) => e),
      2_000,
      "close",
    );
    assertInstanceOf(err, CloseError);
    assertEquals(err.code, CloseCode.MessageTooBig);
    const [outcome] = await s.outcomes();
    assertEquals((outcome as WebSocketError).code, "message_too_big");
  } finally {
    await s.stop();
  }
});

Deno.test("unread messages past maxQueuedMessages close with 1008 and fail the read", async () => {
  const s = start(readAfterClose, { maxQueuedMessages: 10 });
  try {
    const conn = await dial(s.url);
    for (let i = 0; i < 11; i++) await conn.writeMessage(OpCode.Text, `m${i}`);
    const err = await within(
      conn.readMessage().catch((e) => e),
      2_000,
      "close",
    );
    assertInstanceOf(err, CloseError);
    assertEquals(err.code, CloseCode.PolicyViolation);
    const outcome = (await s.outcomes())[0] as WebSocketError;
    assertInstanceOf(outcome, WebSocketError);
    assertEquals(outcome.code, "read_queue_full");
    assertEquals(outcome.closeCode, CloseCode.PolicyViolation);
  } finally {
    await s.stop();
  }
});

Deno.test("unread bytes past maxQueuedBytes close with 1008; 10 MiB flood stays bounded", async () => {
  const s = start(readAfterClose, { maxQueuedBytes: 64 * 1024 });
  try {
    const conn = await dial(s.url);
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    // A peer that keeps sending: 640 chunks (10 MiB) unless the close stops it.
    const flood = (async () => {
      for (; sent < 640; sent++) await conn.writeMessage(OpCode.Binary, chunk);
    })().catch(() => {});
    const err = await within(conn.readMessage().catch((e) => e), 5_000, "end");
    // The close frame (1008), or a reset when Deno drops the flood unread.
    if (err instanceof CloseError) {
      assertEquals(err.code, CloseCode.PolicyViolation);
    } else {
      assertEquals((err as WebSocketError).code, "closed");
    }
    await flood;
    assert(sent < 640, "the flood was cut short");
    const outcome = (await s.outcomes())[0] as WebSocketError;
    assertEquals(outcome.code, "read_queue_full");
  } finally {
    await s.stop();
  }
});

Deno.test("the queue bounds count only unread messages: a reading handler takes any number", async () => {
  const s = start(echo, { maxQueuedMessages: 2, maxQueuedBytes: 4096 });
  try {
    const conn = await dial(s.url);
    for (let i = 0; i < 200; i++) {
      await conn.writeMessage(OpCode.Binary, new Uint8Array(1024).fill(i));
      const back = await conn.readMessage();
      assertEquals([back.data.length, back.data[0]], [1024, i]);
    }
    await conn.close();
    assertEquals(await s.outcomes(), ["ok"]);
  } finally {
    await s.stop();
  }
});

Deno.test("flush() waits for a stalled reader without polling every millisecond", async () => {
  let wakes = 0;
  const realSetTimeout = globalThis.setTimeout;
  let counting = false;
  const counted = ((fn: () => void, ms?: number) => {
    if (counting) wakes++;
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout;
  const flushed = Promise.withResolvers<{ took: number; at: number }>();
  const s = start(async (conn) => {
    await conn.writeMessage(OpCode.Binary, new Uint8Array(32 << 20));
    const started = performance.now();
    counting = true;
    await conn.flush();
    counting = false;
    const at = performance.now();
    flushed.resolve({ took: at - started, at });
    assertEquals(conn.bufferedAmount, 0);
    await conn.close();
  }, { writeHighWaterMark: 64 << 20 });
  globalThis.setTimeout = counted;
  try {
    const conn = await dial(s.url, { readLimit: 64 << 20 });
    await new Promise((r) => realSetTimeout(r, 300)); // the client reads nothing
    const reading = performance.now();
    assertEquals((await conn.readMessage()).data.length, 32 << 20);
    const { took, at } = await flushed.promise;
    await assertRejects(() => conn.readMessage(), CloseError);
    assert(at >= reading, "flush returned before the client read");
    // A 1 ms poll wakes about once per ms (300 times here, fewer only when
    // timers run late); the adaptive wait at most once per 50 ms after its
    // first few, shorter looks.
    assert(
      wakes <= took / 50 + 20,
      `${wakes} wakes in ${took.toFixed(0)} ms`,
    );
    await s.outcomes();
  } finally {
    globalThis.setTimeout = realSetTimeout;
    await s.stop();
  }
});

Deno.test("idleTimeout is how this path pings: Deno pings a silent client, ping() still rejects", async () => {
  let pinged = 0;
  const s = start(async (conn) => {
    await assertRejects(() => conn.ping(), TypeError, "idleTimeout");
    await conn.readMessage();
    await conn.close();
  }, { idleTimeout: 1 });
  try {
    const conn = await dial(s.url);
    const started = performance.now();
    const ping = Promise.withResolvers<void>();
    conn.onPing = () => {
      pinged = performance.now() - started;
      ping.resolve();
    };
    const reading = conn.readMessage().catch((e) => e);
    await within(ping.promise, 3_000, "ping");
    assert(pinged >= 300, `pinged after ${pinged} ms`);
    await conn.writeMessage(OpCode.Text, "done");
    assertInstanceOf(await reading, CloseError);
    assertEquals(await s.outcomes(), ["ok"]);
  } finally {
    await s.stop();
  }
});
