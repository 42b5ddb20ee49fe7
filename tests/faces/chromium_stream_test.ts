/**
 * Chromium's own `WebSocketStream` against our server's stream face: the page
 * and the WebSocket on one port (the `node:http` adapter), the same scenario the
 * Deno and our classes run (`_stream_scenario.ts`), compressed.
 *
 * Needs Debian's `/usr/bin/chromium` (`.ci/install_chromium.sh`); without it the
 * test is reported as ignored.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { createNodeServer } from "../../node.ts";
import { toWebSocketStream, WebSocketStream } from "../../web.ts";
import { Chromium, chromiumInstalled } from "../interop/_chromium.ts";
import { runScenario, type StreamReport } from "./_stream_scenario.ts";

Deno.test({
  name:
    "Chromium's WebSocketStream and ours report the same scenario against our server",
  ignore: !chromiumInstalled(),
  async fn() {
    let requested = "";
    const server = createNodeServer({
      fetch: () =>
        new Response("<!doctype html><title>faces</title>", {
          headers: { "content-type": "text/html" },
        }),
      protocols: ["echo"],
      deflate: true,
      websocket: async (conn, request) => {
        requested = request.headers.get("sec-websocket-extensions") ?? "";
        const { readable, writable } = await toWebSocketStream(conn).opened;
        await readable.pipeTo(writable);
      },
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    const { port } = server.address() as { port: number };
    const url = `ws://127.0.0.1:${port}/ws`;
    try {
      await using browser = await Chromium.launch();
      const page = await browser.newPage(`http://127.0.0.1:${port}/`);
      assertEquals(await page.evaluate("typeof WebSocketStream"), "function");
      // The scenario's own code, run in the page on the page's class.
      const inPage = await page.evaluate<StreamReport>(
        `(${runScenario.toString()})(WebSocketStream, ${JSON.stringify(url)})`,
      );
      const ours = await runScenario(WebSocketStream, url);
      assert(requested.includes("permessage-deflate"), requested);
      assert(
        inPage.extensions.startsWith("permessage-deflate"),
        inPage.extensions,
      );
      assert(ours.extensions.startsWith("permessage-deflate"), ours.extensions);
      // The explainer reads binary messages as Uint8Array (it says it moved
      // from ArrayBuffer); Chromium 156 still hands out ArrayBuffer.
      assertEquals([ours.binaryClass, inPage.binaryClass], [
        "Uint8Array",
        "ArrayBuffer",
      ]);
      assertEquals(
        { ...ours, extensions: undefined, binaryClass: undefined },
        { ...inPage, extensions: undefined, binaryClass: undefined },
      );
      assertEquals(ours.echoed, ["hello ".repeat(40), [1, 2, 3, 250]]);
      assertEquals(ours.closed, { closeCode: 4000, reason: "" });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  },
});
