/**
 * `PreparedMessage` with permessage-deflate, over real sockets: servers whose
 * peers agreed to no context takeover share one compressed frame per window;
 * a peer with context takeover compresses on its own and decodes the same.
 */

import { assert, assertEquals } from "@std/assert";
import { OpCode, PreparedMessage } from "../../mod.ts";
import { type DeflateEngine, zlibEngine } from "../../deflate.ts";
import { parseFrames } from "../_wire.ts";
import { Collector, HubServer, RawClient, until } from "../hub/_hub_server.ts";

Deno.test("writePrepared: no-context-takeover peers share one compressed frame", async () => {
  const inner = zlibEngine();
  let compressed = 0;
  const engine: DeflateEngine = {
    name: "counting",
    limitsWindow: true,
    decompressor: (o) => inner.decompressor(o),
    compressor(o) {
      const c = inner.compressor(o);
      return {
        compress: (d) => (compressed++, c.compress(d)),
        reset: () => c.reset(),
        close: () => c.close(),
      };
    },
  };
  await using server = new HubServer({ deflate: { engine } }, () => {});
  const offer = "permessage-deflate; server_no_context_takeover";
  const x = await RawClient.connect(server.url, offer);
  const y = await RawClient.connect(server.url, offer);
  const small = await RawClient.connect(
    server.url,
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
  );
  await using takeover = await Collector.connect(server.url, { deflate: true });
  await server.waitConns(4);
  try {
    const text = "prepared once, compressed once per window. ".repeat(20);
    const msg = new PreparedMessage(OpCode.Text, text);
    for (const { conn } of server.conns) await conn.writePrepared(msg);
    assertEquals(await takeover.waitFor(1), [text]);
    for (const raw of [x, y, small]) {
      await until(() => parseFrames(raw.bytes).length === 1, "a frame");
    }
    assertEquals(x.bytes, y.bytes);
    assertEquals(parseFrames(small.bytes)[0].rsv, 0x40);
    // 15 bits (x, y), 10 bits (small), and the takeover peer's own.
    assertEquals(compressed, 3);
    assert(x.bytes.length < text.length / 4);
  } finally {
    for (const raw of [x, y, small]) await raw.close();
  }
});
