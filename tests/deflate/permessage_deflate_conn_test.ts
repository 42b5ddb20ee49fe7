/**
 * The permessage-deflate decorator over an in-memory pair: the bytes on the wire (RFC
 * 7692 §7.2.3), frames from a raw peer, limits, errors and a compressed echo
 * between our client and our server.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { deflateRawSync } from "node:zlib";
import {
  CloseError,
  Conn,
  type ConnOptions,
  OpCode,
  Rsv,
  WebSocketError,
} from "../../mod.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import type {
  DeflateOptions,
  DeflateParams,
} from "../../src/deflate/negotiate.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import {
  closeCodeOf,
  frame,
  memoryTransportPair,
  parseFrames,
  readBytes,
  readToEnd,
} from "../_pair.ts";
import { rawPeer } from "../_raw_peer.ts";
import { dec, enc } from "../_wire.ts";

/** Both ends of a pair; each is a raw peer and a transport for a `Conn`. */
interface Pair {
  client: Deno.Conn;
  server: Deno.Conn;
}

const hex = (s: string) =>
  new Uint8Array(s.split(" ").map((b) => parseInt(b, 16)));

const ENGINES: DeflateEngine[] = [compressionStreamEngine(), zlibEngine()];
const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function deflateConn(
  ends: Deno.Conn,
  role: "client" | "server",
  params: DeflateParams = PARAMS,
  options: DeflateOptions = {},
  conn: Partial<ConnOptions> = {},
): PerMessageDeflateConn {
  return new PerMessageDeflateConn(
    new Conn(ends, {
      role,
      rsvAllowed: Rsv.Rsv1,
      extensions: "permessage-deflate",
      closeTimeout: 1000,
      ...conn,
    }),
    params,
    options,
  );
}

/**
 * Runs `fn` over an in-memory pair whose pipes hold 4 MiB unread, as a loopback
 * socket's buffers do; a `Conn` on either end reads it directly.
 */
async function withPair(fn: (ends: Pair) => Promise<void>): Promise<void> {
  const memory = memoryTransportPair(4 << 20);
  const ends = {
    client: rawPeer(memory.client),
    server: rawPeer(memory.server),
  };
  try {
    await fn(ends);
  } finally {
    try {
      ends.client.close();
    } catch { /* closed */ }
    try {
      ends.server.close();
    } catch { /* closed */ }
  }
}

/** Writes raw frames to `raw` and returns the server's reaction as frames. */
async function rejectFrom(
  ends: Pair,
  frames: Uint8Array[],
  conn: Partial<ConnOptions> = {},
  options: DeflateOptions = {},
): Promise<{ error: unknown; closeCode: number | undefined }> {
  const server = deflateConn(ends.server, "server", PARAMS, options, conn);
  for (const f of frames) await ends.client.write(f);
  const error = await server.readMessage().then(() => null, (e) => e);
  const { bytes } = await readToEnd(ends.client, 2000);
  const frames2 = parseFrames(bytes);
  return { error, closeCode: closeCodeOf(frames2[frames2.length - 1]) };
}

/** With takeover, and without (where the default engine inflates on zlib). */
const BOMB_MODES: [string, DeflateParams][] = [
  ["context takeover", PARAMS],
  ["client_no_context_takeover", { ...PARAMS, clientNoContextTakeover: true }],
];

for (const engine of ENGINES) {
  const name = engine.name;

  Deno.test(`${name}: the wire carries RFC 7692 §7.2.3.1-2 frames`, async () => {
    await withPair(async (ends) => {
      const server = deflateConn(ends.server, "server", PARAMS, {
        engine,
        threshold: 0,
      });
      await server.writeMessage(OpCode.Text, "Hello");
      await server.writeMessage(OpCode.Text, enc("Hello"));
      await server.flush();
      assertEquals(
        await readBytes(ends.client, 16),
        hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"),
      );
      server.abort();
    });
  });

  Deno.test(`${name}: server_no_context_takeover sends each "Hello" afresh`, async () => {
    await withPair(async (ends) => {
      const server = deflateConn(
        ends.server,
        "server",
        { ...PARAMS, serverNoContextTakeover: true },
        { engine, threshold: 0 },
      );
      await server.writeMessage(OpCode.Text, "Hello");
      await server.writeMessage(OpCode.Text, "Hello");
      await server.flush();
      assertEquals(
        await readBytes(ends.client, 18),
        hex("c1 07 f2 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00"),
      );
      server.abort();
    });
  });

  Deno.test(`${name}: inflates the RFC 7692 §7.2.3 messages from a raw client`, async () => {
    await withPair(async (ends) => {
      const server = deflateConn(ends.server, "server", PARAMS, { engine });
      const frames = [
        frame(0xc1, hex("f2 48 cd c9 c9 07 00")), // 7.2.3.1
        frame(0xc1, hex("f2 00 11 00 00")), // 7.2.3.2, takeover
        frame(0xc1, hex("00 05 00 fa ff 48 65 6c 6c 6f 00")), // 7.2.3.3
        frame(0xc1, hex("f3 48 cd c9 c9 07 00")), // 7.2.3.4, BFINAL
        frame(0xc1, hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")), // 7.2.3.5
        frame(0xc1, hex("00")), // 7.2.3.6, empty
        // 7.2.3.1 fragmented: RSV1 on the first frame only.
        frame(0x41, hex("f2 48 cd")),
        frame(0x80, hex("c9 c9 07 00")),
        frame(0x81, enc("plain")), // uncompressed
      ];
      for (const f of frames) await ends.client.write(f);
      const got: [string, number][] = [];
      for (let i = 0; i < 8; i++) {
        const msg = await server.readMessage();
        got.push([dec(msg.data), msg.rsv]);
      }
      assertEquals(got, [
        ["Hello", Rsv.Rsv1],
        ["Hello", Rsv.Rsv1],
        ["Hello", Rsv.Rsv1],
        ["Hello", Rsv.Rsv1],
        ["Hello", Rsv.Rsv1],
        ["", Rsv.Rsv1],
        ["Hello", Rsv.Rsv1],
        ["plain", 0],
      ]);
      server.abort();
    });
  });

  for (const [mode, params] of BOMB_MODES) {
    Deno.test(`${name}, ${mode}: a decompression bomb ends with 1009 at the read limit`, async () => {
      await withPair(async (ends) => {
        const bomb = deflateRawSync(new Uint8Array(64 << 20));
        const server = deflateConn(ends.server, "server", params, { engine }, {
          readLimit: 1 << 20,
        });
        await ends.client.write(frame(0xc2, bomb));
        const err = await assertRejects(
          () => server.readMessage(),
          WebSocketError,
        );
        assertEquals(err.code, "message_too_big");
        const { bytes } = await readToEnd(ends.client, 2000);
        assertEquals(closeCodeOf(parseFrames(bytes).at(-1)), 1009);
        // The error sticks.
        await assertRejects(() => server.readMessage(), WebSocketError);
      });
    });
  }

  Deno.test(`${name}: invalid UTF-8 after inflation ends with 1007`, async () => {
    await withPair(async (ends) => {
      const packed = deflateRawSync(new Uint8Array([0x48, 0xff, 0xfe]));
      const r = await rejectFrom(ends, [frame(0xc1, packed)]);
      assertEquals((r.error as WebSocketError).code, "invalid_utf8");
      assertEquals(r.closeCode, 1007);
    });
  });

  Deno.test(`${name}: long texts are checked whole: one bad sequence anywhere ends with 1007`, async () => {
    // 256 bytes and more go to Node's native check once the zlib engine is
    // loaded (as in this file); shorter ones stay with ours.
    const base = enc('κόσμε, {"id": 42} '.repeat(300));
    for (const size of [255, 256, 4096]) {
      const cases: [string, number, number[]][] = [
        ["surrogate", 100, [0xed, 0xa0, 0x80]],
        ["overlong", 2000, [0xc0, 0xaf]],
        ["above U+10FFFF", 4090, [0xf4, 0x90, 0x80, 0x80]],
        ["lone continuation", 255, [0x80]],
        ["cut inside a character at the very end", size - 1, [0xce]],
      ];
      for (const [label, at, bad] of cases) {
        if (at + bad.length > size) continue;
        const body = base.slice(0, size);
        body.set(bad, at);
        await withPair(async (ends) => {
          const r = await rejectFrom(
            ends,
            [frame(0xc1, deflateRawSync(body))],
            { closeTimeout: 50 },
            { engine },
          );
          assertEquals(
            [(r.error as WebSocketError).code, r.closeCode],
            ["invalid_utf8", 1007],
            `${label} at ${at} of ${size}`,
          );
        });
      }
    }
    await withPair(async (ends) => {
      const server = deflateConn(ends.server, "server", PARAMS, { engine });
      const valid = base.slice(0, 4000);
      await ends.client.write(frame(0xc1, deflateRawSync(valid)));
      assertEquals((await server.readMessage()).data, valid);
      server.abort();
    });
  });

  Deno.test(`${name}: data that does not inflate ends with 1007`, async () => {
    await withPair(async (ends) => {
      const r = await rejectFrom(ends, [frame(0xc2, hex("ff ff ff ff"))]);
      assertEquals(
        (r.error as WebSocketError).code,
        "invalid_compressed_data",
      );
      assertEquals(r.closeCode, 1007);
    });
  });
}

Deno.test("RSV1 on a control frame is a protocol error (1002)", async () => {
  await withPair(async (ends) => {
    const r = await rejectFrom(ends, [frame(0xc9, new Uint8Array(0))]);
    assertEquals((r.error as WebSocketError).code, "reserved_bits");
    assertEquals(r.closeCode, 1002);
  });
});

Deno.test("RSV1 on a continuation frame is a protocol error (1002)", async () => {
  await withPair(async (ends) => {
    const r = await rejectFrom(ends, [
      frame(0x41, hex("f2 48 cd")),
      frame(0xc0, hex("c9 c9 07 00")),
    ]);
    assertEquals((r.error as WebSocketError).code, "reserved_bits");
    assertEquals(r.closeCode, 1002);
  });
});

Deno.test("RSV1 without negotiation is a protocol error (1002)", async () => {
  await withPair(async (ends) => {
    const r = await rejectFrom(
      ends,
      [frame(0xc1, hex("f2 48 cd c9 c9 07 00"))],
      { rsvAllowed: 0 },
    );
    assertEquals((r.error as WebSocketError).code, "reserved_bits");
    assertEquals(r.closeCode, 1002);
  });
});

Deno.test("below the threshold messages go uncompressed; control frames never compress", async () => {
  await withPair(async (ends) => {
    const client = deflateConn(ends.client, "client", PARAMS, {
      threshold: 10,
    });
    await client.writeMessage(OpCode.Text, "short");
    await client.writeMessage(OpCode.Binary, new Uint8Array(9));
    await client.writeMessage(OpCode.Text, "long enough");
    await client.ping(enc("ping ping ping ping"));
    await client.pong(enc("pong pong pong pong"));
    await client.flush();
    const { bytes } = await readToEnd(ends.server, 500);
    const frames = parseFrames(bytes);
    assertEquals(
      frames.map((f) => [f.opcode, f.rsv]),
      [[1, 0], [2, 0], [1, Rsv.Rsv1], [9, 0], [10, 0]],
    );
    client.abort();
  });
});

Deno.test("streamMessage compresses on the fly: RSV1 on the first frame only", async () => {
  await withPair(async (ends) => {
    const client = deflateConn(ends.client, "client");
    const server = deflateConn(ends.server, "server");
    const chunks = Array.from(
      { length: 10 },
      (_, i) => enc(`chunk ${i} `.repeat(300)),
    );
    async function* source() {
      for (const c of chunks) yield c;
    }
    // A raw view of the frames: read them with the low-level API.
    await client.streamMessage(OpCode.Text, source(), 4096);
    const buf = new Uint8Array(1 << 20);
    const seen: [boolean, number, number][] = [];
    let compressed = 0;
    for (let i = 0; i < 100; i++) {
      const f = await server.readFrame(buf);
      seen.push([f.header.fin, f.header.rsv, f.header.opcode]);
      compressed += f.payload.length;
      if (f.header.fin) break;
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    assertEquals(seen[0], [false, Rsv.Rsv1, OpCode.Text]);
    assert(seen.slice(1).every(([, rsv, op]) => rsv === 0 && op === 0));
    assertEquals(seen.at(-1)![0], true);
    assertEquals(seen.length, Math.ceil(total / 4096));
    assert(compressed < total / 5, `${compressed} of ${total}`);
    client.abort();
  });
});

Deno.test("a streamed compressed message reads back whole", async () => {
  await withPair(async (ends) => {
    const client = deflateConn(ends.client, "client");
    const server = deflateConn(ends.server, "server");
    const body = new TextEncoder().encode("0123456789abcdef".repeat(5000));
    const stream = new Blob([body]).stream();
    const sent = client.streamMessage(OpCode.Binary, stream, 1000);
    const msg = await server.readMessage();
    await sent;
    assertEquals(msg.data, body);
    // The context goes on after the streamed message.
    await client.writeMessage(OpCode.Text, "after ".repeat(50));
    assertEquals(dec((await server.readMessage()).data), "after ".repeat(50));
    client.abort();
  });
});

Deno.test("readMessage(buf) fills the caller's buffer, compressed or not", async () => {
  await withPair(async (ends) => {
    const client = deflateConn(ends.client, "client", PARAMS, {
      threshold: 100,
    });
    const server = deflateConn(ends.server, "server");
    const buf = new Uint8Array(1000);
    await client.writeMessage(OpCode.Text, "x".repeat(500));
    await client.writeMessage(OpCode.Text, "tiny");
    let msg = await server.readMessage(buf);
    assertEquals([msg.rsv, msg.data.length, msg.data.buffer], [
      Rsv.Rsv1,
      500,
      buf.buffer,
    ]);
    msg = await server.readMessage(buf);
    assertEquals([msg.rsv, dec(msg.data), msg.data.buffer], [
      0,
      "tiny",
      buf.buffer,
    ]);
    await client.writeMessage(OpCode.Text, "y".repeat(2000));
    const err = await assertRejects(
      () => server.readMessage(buf),
      WebSocketError,
    );
    assertEquals(err.code, "buffer_too_small");
    client.abort();
  });
});

const MODES: [string, Partial<DeflateParams>][] = [
  ["context takeover", {}],
  ["no context takeover", {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  }],
];

for (const engine of ENGINES) {
  for (const [mode, params] of MODES) {
    Deno.test(`echo between our client and our server: ${engine.name}, ${mode}`, async () => {
      await withPair(async (ends) => {
        const p = { ...PARAMS, ...params };
        const client = deflateConn(ends.client, "client", p, { engine });
        const server = deflateConn(ends.server, "server", p, { engine });
        const echo = (async () => {
          for await (const msg of server) {
            await server.writeMessage(msg.opcode, msg.data.slice());
          }
        })();
        const sizes = [0, 1, 127, 128, 4096, 20_000, 100_000, 300_000];
        const sent: Uint8Array[] = [];
        // Written back to back without awaiting: order must hold.
        const writes = sizes.map((n, i) => {
          const body = enc(
            `{"n":${i},"pad":"${"abc".repeat(n)}"}`.slice(0, n),
          );
          sent.push(body);
          return client.writeMessage(OpCode.Binary, body);
        });
        await Promise.all(writes);
        for (const body of sent) {
          const msg = await client.readMessage();
          assertEquals(msg.data.length, body.length);
          assertEquals(msg.data, body);
        }
        await client.close();
        await echo;
        assertEquals((await client.closed).code, 1000);
      });
    });
  }
}

for (const engine of ENGINES) {
  Deno.test(`back-to-back writes of incompressible messages keep every byte: ${engine.name}`, async () => {
    await withPair(async (ends) => {
      const client = deflateConn(ends.client, "client", PARAMS, { engine });
      const server = deflateConn(ends.server, "server", PARAMS, { engine });
      // Random bytes compress to more than they are: from 3 KiB on, the frame no
      // longer fits the 4 KiB scratchpad and the engine's output buffer is
      // written as it is, while the next message is already being compressed.
      let seed = 7;
      const random = (n: number) =>
        Uint8Array.from(
          { length: n },
          () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24,
        );
      const sizes = [
        1500,
        3000,
        5000,
        5000,
        6000,
        9000,
        9000,
        70_000,
        4100,
        4100,
      ];
      const sent = sizes.map(random);
      const writes = sent.map((body) =>
        server.writeMessage(OpCode.Binary, body)
      );
      for (const body of sent) {
        const msg = await client.readMessage();
        assertEquals(msg.data.length, body.length);
        assertEquals(msg.data, body);
      }
      await Promise.all(writes);
      const back = sent.map((body) => client.writeMessage(OpCode.Binary, body));
      for (const body of sent) {
        assertEquals((await server.readMessage()).data, body);
      }
      await Promise.all(back);
      client.abort();
    });
  });
}

Deno.test("the peer's close is reported as CloseError through the decorator", async () => {
  await withPair(async (ends) => {
    const client = deflateConn(ends.client, "client");
    const server = deflateConn(ends.server, "server");
    const closing = client.close(4001, "bye");
    const err = await assertRejects(() => server.readMessage(), CloseError);
    assertEquals([err.code, err.reason], [4001, "bye"]);
    await closing;
  });
});

Deno.test("accept and dial negotiate through the extension handlers, then echo compressed", async () => {
  const { accept, dial } = await import("../../mod.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverOptions: DeflateOptions = {
    engine: zlibEngine(),
    clientNoContextTakeover: true,
  };
  const clientOptions: DeflateOptions = {
    engine: zlibEngine(),
    serverMaxWindowBits: 10,
  };
  try {
    const served = (async () => {
      const conn = await accept(await listener.accept(), {
        deflate: serverOptions,
      });
      for await (const msg of conn) {
        await conn.writeMessage(msg.opcode, msg.data.slice());
      }
    })();
    const client = await dial(`ws://127.0.0.1:${listener.addr.port}`, {
      deflate: clientOptions,
    });
    if (!(client instanceof PerMessageDeflateConn)) throw new Error("Plain");
    assertEquals(
      client.extensions,
      "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
    );
    assertEquals(client.params, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 15,
    });
    for (let i = 0; i < 20; i++) {
      const body = `{"seq":${i},"data":"${"xyz".repeat(100 * i)}"}`;
      await client.writeMessage(OpCode.Text, body);
      const msg = await client.readMessage();
      assertEquals(dec(msg.data), body);
      // Below the default threshold (128 bytes) the echo goes uncompressed.
      assertEquals(msg.rsv, body.length < 128 ? 0 : Rsv.Rsv1);
    }
    await client.close();
    await served;
  } finally {
    listener.close();
  }
});
