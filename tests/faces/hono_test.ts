/**
 * `examples/hono.ts`: a Hono app and a compressed WebSocket on one port through
 * the `node:http` adapter, over real sockets — HTTP routes with `fetch`, the
 * WebSocket with our client (compression seen on the wire) and with Chromium
 * loading the page.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { WebSocket } from "../../web.ts";
import { createServer } from "../../examples/hono.ts";
import { Chromium, chromiumInstalled } from "../interop/_chromium.ts";
import { startSniffer } from "./_sniffer.ts";
import { next } from "./_websocket_behaviour.ts";

async function listen(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

Deno.test("hono example: the page, a JSON route and a compressed WebSocket on one port", async () => {
  const server = await listen();
  try {
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assertEquals(page.headers.get("content-type"), "text/html; charset=UTF-8");
    assertStringIncludes(await page.text(), '<pre id="log"></pre>');
    const api = await fetch(
      `http://127.0.0.1:${server.port}/api/hello?name=deno`,
    );
    assertEquals(await api.json(), { hello: "deno" });

    await using sniffer = startSniffer(server.port);
    const ws = new WebSocket(`ws://127.0.0.1:${sniffer.port}/ws`);
    await next(ws, "open");
    assert(ws.extensions.startsWith("permessage-deflate"), ws.extensions);
    const text = "a message long enough to be compressed ".repeat(10);
    const reply = next<MessageEvent>(ws, "message");
    ws.send(text);
    assertEquals((await reply).data, `echo: ${text}`);
    ws.close();
    await next(ws, "close");
    assert(
      /^sec-websocket-extensions: permessage-deflate/im.test(
        sniffer.seen.response,
      ),
    );
    assertEquals(sniffer.seen.up.find((f) => f.opcode === 1)?.rsv1, true);
    assertEquals(sniffer.seen.down.find((f) => f.opcode === 1)?.rsv1, true);

    const elsewhere = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
    const e = await next<CloseEvent>(elsewhere, "close");
    assertEquals([e.wasClean, e.code], [false, 1006]);
  } finally {
    await server.close();
  }
});

Deno.test({
  name:
    "hono example: Chromium loads the page, and its WebSocket is compressed and echoed",
  ignore: !chromiumInstalled(),
  async fn() {
    const server = await listen();
    try {
      await using browser = await Chromium.launch();
      const page = await browser.newPage(`http://127.0.0.1:${server.port}/`);
      const log = await page.evaluate<string>(`(async () => {
        for (let i = 0; i < 100; i++) {
          const text = document.getElementById("log").textContent;
          if (text.includes("echo:")) return text;
          await new Promise((r) => setTimeout(r, 50));
        }
        return document.getElementById("log").textContent;
      })()`);
      assertStringIncludes(log, "open permessage-deflate");
      assertStringIncludes(log, "echo: hello from the page");
    } finally {
      await server.close();
    }
  },
});
