/**
 * The zlib engine's shared native handles: a handle given back on reset carries
 * no context into another connection's message, handles in use (context
 * takeover, streamed messages) are never shared, and a failed handle is not
 * handed out again.
 */

import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { constants, inflateRawSync } from "node:zlib";
import { accept, dial, OpCode, Rsv, type WebSocketConn } from "../../mod.ts";
import { WebSocketError } from "../../src/codec/errors.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import type { DeflateOptions } from "../../src/deflate/negotiate.ts";
import type { Compressor } from "../../src/deflate/compressor.ts";
import { dec, enc } from "../_wire.ts";
import { jsonish, random } from "./_payloads.ts";

const TRAILER = [0x00, 0x00, 0xff, 0xff];

function text(seed: number): Uint8Array {
  let s = "";
  for (let i = 0; s.length < 3000; i++) {
    s += `{"id":${seed * 100 + i},"user":"user${(seed + i) % 7}","n":${i}},`;
  }
  return enc(s);
}

/** Compresses with a zlib compressor, which answers synchronously. */
function squeeze(c: Compressor, data: Uint8Array): Uint8Array {
  const out = c.compress(data);
  if (out instanceof Promise) throw new Error("zlib compresses synchronously");
  return out;
}

/** Inflates one message alone, as a peer without context would. */
function inflateAlone(packed: Uint8Array): Uint8Array {
  return new Uint8Array(
    inflateRawSync(packed, { finishFlush: constants.Z_SYNC_FLUSH }),
  );
}

Deno.test("zlib: after reset, another compressor's message owes nothing to the previous one", () => {
  const engine = zlibEngine();
  const options = { level: 6, windowBits: 15 };
  const fresh = engine.compressor(options);
  const expected = [1, 2, 3, 4].map((seed) => {
    const out = squeeze(fresh, text(seed)).slice();
    fresh.reset();
    return out;
  });
  fresh.close();
  const a = engine.compressor(options);
  const b = engine.compressor(options);
  // Interleaved, each reset after its message, as without context takeover.
  for (let round = 0; round < 3; round++) {
    for (const [seed, c] of [[1, a], [2, b], [3, a], [4, b]] as const) {
      const out = squeeze(c, text(seed));
      assertEquals([...out.subarray(out.length - 4)], TRAILER);
      assertEquals(out, expected[seed - 1], `seed ${seed}, round ${round}`);
      assertEquals(dec(inflateAlone(out)), dec(text(seed)));
      c.reset();
    }
  }
  a.close();
  b.close();
});

Deno.test("zlib: interleaved compressors with context takeover each keep their own window", () => {
  const engine = zlibEngine();
  const [a, b] = [1, 2].map(() =>
    engine.compressor({ level: 6, windowBits: 15 })
  );
  const streams: number[][] = [[], []];
  const expected = ["", ""];
  for (let i = 0; i < 4; i++) {
    for (const [k, c] of [a, b].entries()) {
      const message = text(i + 10 * k);
      const first = squeeze(c, message);
      streams[k].push(...first);
      // The same message again is one back reference into this window.
      const again = squeeze(c, message);
      const alone = engine.compressor({ level: 6, windowBits: 15 });
      const fresh = squeeze(alone, message).length;
      alone.close();
      assert(again.length * 4 < fresh, `${again.length} of ${fresh} bytes`);
      streams[k].push(...again);
      expected[k] += dec(message).repeat(2);
    }
  }
  // Each side's messages form one DEFLATE stream that zlib inflates in one go.
  for (const k of [0, 1]) {
    const all = dec(inflateAlone(new Uint8Array(streams[k])));
    assertEquals(all, expected[k]);
  }
  a.close();
  b.close();
});

Deno.test("zlib: interleaved decompressors keep their own window; a failed one spoils no other", () => {
  const engine = zlibEngine();
  const senders = [0, 1].map(() =>
    engine.compressor({ level: 6, windowBits: 15 })
  );
  const inflaters = [0, 1].map(() => engine.decompressor({ windowBits: 15 }));
  const out = new InflateOutput();
  for (let i = 0; i < 5; i++) {
    for (const k of [0, 1]) {
      const packed = squeeze(senders[k], text(i + 10 * k));
      out.start(1 << 20);
      inflaters[k].decompress(packed.subarray(0, packed.length - 4), true, out);
      assertEquals(dec(out.data), dec(text(i + 10 * k)));
    }
  }
  // A broken message fails its inflater, which gives up its handle...
  const broken = engine.decompressor({ windowBits: 15 });
  out.start(1 << 20);
  const error = assertThrows(
    () =>
      broken.decompress(new Uint8Array([0xff, 0xff, 0xff, 0xff]), true, out),
    WebSocketError,
  );
  assertEquals(error.code, "invalid_compressed_data");
  broken.close();
  // ...and the inflaters made afterwards, on pooled handles or not, work.
  for (let n = 0; n < 6; n++) {
    const c = engine.compressor({ level: 6, windowBits: 15 });
    const d = engine.decompressor({ windowBits: 15 });
    const packed = squeeze(c, text(n));
    out.start(1 << 20);
    d.decompress(packed.subarray(0, packed.length - 4), true, out);
    assertEquals(dec(out.data), dec(text(n)));
    c.close();
    d.close();
  }
  for (const c of [...senders, ...inflaters]) c.close();
});

async function pair(
  deflate: DeflateOptions,
): Promise<{ server: WebSocketConn; client: WebSocketConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [server, client] = await Promise.all([
      listener.accept().then((tcp) => accept(tcp, { deflate })),
      dial(`ws://127.0.0.1:${listener.addr.port}/`, { deflate }),
    ]);
    return { server, client };
  } finally {
    listener.close();
  }
}

Deno.test("zlib without context takeover: connections sharing handles, one streaming meanwhile, all deliver intact", async () => {
  const deflate: DeflateOptions = {
    engine: zlibEngine(),
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };
  const pairs = await Promise.all([0, 1, 2].map(() => pair(deflate)));
  for (const { client } of pairs) {
    assertEquals(
      client.extensions,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
  }
  // Echo servers.
  const echoes = pairs.map(({ server }) =>
    (async () => {
      for await (const msg of server) {
        await server.writeMessage(OpCode.Text, msg.data);
      }
    })()
  );
  // The first client streams a message in slow pieces, holding a compressor
  // across awaits, while the others send whole messages in between.
  const pieces = [0, 1, 2, 3].map((i) => text(50 + i));
  const streamed = pairs[0].client.streamMessage(
    OpCode.Text,
    (async function* () {
      for (const piece of pieces) {
        yield piece;
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
    2000,
  );
  for (let i = 0; i < 8; i++) {
    await Promise.all([1, 2].map(async (k) => {
      const { client } = pairs[k];
      await client.writeMessage(OpCode.Text, text(i * 3 + k));
      const echo = await client.readMessage();
      assertEquals(echo.rsv, Rsv.Rsv1);
      assertEquals(dec(echo.data), dec(text(i * 3 + k)));
    }));
  }
  await streamed;
  const echo = await pairs[0].client.readMessage();
  assertEquals(dec(echo.data), pieces.map(dec).join(""));
  for (const { client, server } of pairs) {
    await Promise.all([client.close(), client.closed, server.closed]);
  }
  await Promise.all(echoes);
  await assertRejects(() => pairs[0].client.readMessage());
});

Deno.test("zlib: level 0 stores, level 9 packs at least as tightly as level 1", async () => {
  const input = jsonish(50_000);
  const sizes: number[] = [];
  for (const level of [0, 1, 9]) {
    const c = zlibEngine().compressor({ level, windowBits: 15 });
    sizes.push((await c.compress(input)).length);
    c.close();
  }
  assert(sizes[0] > input.length, `stored: ${sizes[0]}`);
  assert(sizes[2] <= sizes[1], `level 9 ${sizes[2]} vs level 1 ${sizes[1]}`);
});

Deno.test("zlib: a small window does not reach back past it", async () => {
  // A 300-byte random block repeated: only a window over 300 bytes can match it.
  const block = random(300, 7);
  const input = new Uint8Array(3000);
  for (let i = 0; i < 10; i++) input.set(block, i * 300);
  const lengths: number[] = [];
  for (const windowBits of [8, 9, 10, 15]) {
    const c = zlibEngine().compressor({ level: 6, windowBits });
    lengths.push((await c.compress(input)).length);
    c.close();
  }
  assert(lengths[0] > 2500 && lengths[1] > 2500, `${lengths}`);
  assert(lengths[2] < 1000 && lengths[3] < 1000, `${lengths}`);
  assertNotEquals(lengths[1], lengths[3]);
});
