/**
 * Runs the whole interop matrix (`matrix.ts`) and asserts that every cell passes:
 * our server and our client against Deno's built-in WebSocket, `ws` from npm
 * (plain and with permessage-deflate) and headless Chromium, over loopback.
 *
 * Chromium rows need Debian's `/usr/bin/chromium` (`.ci/install_chromium.sh`);
 * without it they are reported as ignored, never as passed.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { chromiumInstalled } from "./_chromium.ts";
import { cellName, cells, openMatrix, runCell } from "./matrix.ts";

const chromium = chromiumInstalled();

Deno.test("interop matrix: every peer, role and compression setting passes", async (t) => {
  await using ctx = await openMatrix({ chromium });
  for (const cell of cells({ chromium })) {
    await t.step(cellName(cell), async () => {
      const { problems } = await runCell(cell, ctx);
      assertEquals(problems, []);
    });
  }
});
