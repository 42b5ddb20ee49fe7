/**
 * The chat example in a real browser: the chat server runs as its own process,
 * two headless Chromium tabs load its page, join, and a message typed in one
 * appears in the other, and back. A screenshot of the first tab goes to
 * `reports/chat_page.png`.
 *
 * Needs Debian's `/usr/bin/chromium` (`.ci/install_chromium.sh`).
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertStringIncludes,
} from "@std/assert";
import {
  Chromium,
  chromiumInstalled,
  type Page,
} from "../interop/_chromium.ts";
import { dec } from "../_wire.ts";

const root = new URL("../../", import.meta.url);

/** Evaluates `condition` in the page until it is truthy (at most `ms`). */
function waitInPage<T>(page: Page, condition: string, ms = 10_000): Promise<T> {
  return page.evaluate<T>(`new Promise((resolve, reject) => {
    const until = Date.now() + ${ms};
    (function poll() {
      const value = (${condition});
      if (value) resolve(value);
      else if (Date.now() > until) reject(new Error("timed out: " + ${
    JSON.stringify(condition)
  }));
      else setTimeout(poll, 20);
    })();
  })`);
}

/** Fills the join form and submits it as a person would, then waits to be in. */
async function join(page: Page, name: string): Promise<void> {
  await page.evaluate(`(() => {
    document.getElementById("name").value = ${JSON.stringify(name)};
    document.getElementById("join").requestSubmit();
  })()`);
  assertEquals(
    await waitInPage<string>(
      page,
      `document.getElementById("status").textContent.startsWith("connected") &&
        document.getElementById("status").textContent`,
    ),
    `connected as ${name}`,
  );
}

/** The text of the page's message list, one entry per line. */
function logLines(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    `[...document.querySelectorAll("#log li")].map((li) => li.textContent)`,
  );
}

Deno.test({
  name: "chat page: two tabs exchange a message through the chat server",
  ignore: !chromiumInstalled(),
  async fn() {
    const server = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "examples/chat_server.ts", "--port", "0"],
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let out = "";
    const reading = (async () => {
      for await (
        const text of server.stdout.pipeThrough(new TextDecoderStream())
      ) {
        out += text;
      }
    })();
    try {
      let match: RegExpExecArray | null = null;
      for (let i = 0; i < 500 && match === null; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        match = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      }
      assert(match, `no address in ${JSON.stringify(out)}`);
      const url = match![0];

      {
        await using browser = await Chromium.launch();
        const ann = await browser.newPage(url);
        const bob = await browser.newPage(url);
        assertEquals(await ann.evaluate<string>("document.title"), "wsx chat");
        await join(ann, "ann");
        await join(bob, "bob");

        await ann.evaluate(`(() => {
          document.getElementById("text").value = "Hello from the first tab";
          document.getElementById("say").requestSubmit();
        })()`);
        await waitInPage(
          bob,
          `document.getElementById("log").textContent.includes("Hello from the first tab")`,
        );
        const lines = await logLines(bob);
        assertEquals(lines[0], "bob joined (2 here)");
        assert(
          lines[1].startsWith("annHello from the first tab"),
          JSON.stringify(lines),
        );
        // The sender sees its own message, marked as its own.
        assertEquals(
          await waitInPage<string>(
            ann,
            `document.querySelector("#log li.mine")?.textContent`,
          ),
          lines[1],
        );
        // The input was cleared for the next message.
        assertEquals(
          await ann.evaluate<string>(`document.getElementById("text").value`),
          "",
        );

        // And back: the screenshot shows both sides of the conversation.
        await bob.evaluate(`(() => {
          document.getElementById("text").value = "Hi ann, loud and clear";
          document.getElementById("say").requestSubmit();
        })()`);
        await waitInPage(
          ann,
          `document.getElementById("log").textContent.includes("loud and clear")`,
        );

        const png = await ann.screenshot();
        assertEquals(
          [...png.subarray(0, 8)],
          [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
        );
        const view = new DataView(png.buffer, png.byteOffset);
        assertEquals(dec(png.subarray(12, 16)), "IHDR");
        assertGreater(view.getUint32(16), 100); // width
        assertGreater(view.getUint32(20), 100); // height
        assertGreater(png.length, 5_000); // more than a blank page
        await Deno.mkdir(new URL("reports/", root), { recursive: true });
        await Deno.writeFile(new URL("reports/chat_page.png", root), png);

        await ann.close();
        await waitInPage(
          bob,
          `document.getElementById("log").textContent.includes("ann left")`,
        );
      }

      server.kill("SIGTERM");
      assertEquals((await server.status).code, 0);
      await reading;
      assertStringIncludes(out, "Chat server stopped");
    } finally {
      try {
        server.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await server.status;
      await reading;
    }
  },
});
