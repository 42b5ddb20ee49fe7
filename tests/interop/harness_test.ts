/**
 * Tests of the interop harness itself, with no code of ours in the loop: the
 * Chromium driver, the shared scenario between independent peers, and the judge
 * catching a peer that misbehaves. A matrix cell that fails while these pass
 * points at our library, not at the harness.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { Chromium, chromiumInstalled } from "./_chromium.ts";
import {
  chromiumClient,
  denoClient,
  denoUpgrade,
  ReportBox,
  type ScenarioClient,
  type ScenarioServer,
  startDenoServer,
  startPageServer,
  startWsServer,
  wsClient,
} from "./_peers.ts";
import { judge } from "./_judge.ts";
import { MESSAGES, payload, SERVER_CLOSE } from "./page/messages.js";
import { serveSocket, type SocketLike } from "./page/scenario.js";

const hasChromium = chromiumInstalled();

async function play(
  server: ScenarioServer,
  client: ScenarioClient,
  deflate: boolean,
) {
  try {
    const report = await client(server.url);
    return judge(report, await server.reports(3), { deflate });
  } finally {
    await server.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "chromium driver: evaluates, screenshots, and leaves no process or profile",
  ignore: !hasChromium,
  async fn() {
    const page = startPageServer();
    const browser = await Chromium.launch();
    const { pid, profile } = browser;
    try {
      assert(processAlive(pid));
      const tab = await browser.newPage(page.url);
      assertEquals(await tab.evaluate<string>("document.title"), "wsx interop");
      assertEquals(
        await tab.evaluate<number>(
          "new Promise((r) => setTimeout(() => r(6 * 7), 10))",
        ),
        42,
      );
      await assertRejects(() => tab.evaluate("null.x"), Error, "TypeError");
      const png = await tab.screenshot();
      assertEquals([...png.subarray(0, 8)], [
        0x89,
        0x50,
        0x4e,
        0x47,
        0x0d,
        0x0a,
        0x1a,
        0x0a,
      ]);
      await tab.close();
    } finally {
      await browser.close();
      await page.close();
    }
    assert(!processAlive(pid) || isZombie(pid), `chromium ${pid} still runs`);
    await assertRejects(() => Deno.stat(profile), Deno.errors.NotFound);
    await browser.close(); // a second close is harmless
  },
});

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return true;
  }
}

Deno.test("harness: Deno client and ws server play the scenario", async () => {
  assertEquals(await play(await startWsServer(), denoClient, false), []);
});

Deno.test("harness: Deno client and Deno server play the scenario", async () => {
  assertEquals(await play(startDenoServer(), denoClient, false), []);
});

Deno.test("harness: ws client and ws server negotiate permessage-deflate", async () => {
  const variant = { label: "deflate" };
  assertEquals(
    await play(await startWsServer(variant), wsClient(variant), true),
    [],
  );
});

Deno.test({
  name: "harness: Chromium plays the scenario against ws, plain and compressed",
  ignore: !hasChromium,
  async fn() {
    const page = startPageServer();
    await using browser = await Chromium.launch();
    try {
      const client = chromiumClient(browser, page.url);
      assertEquals(await play(await startWsServer(), client, false), []);
      assertEquals(
        await play(await startWsServer({ label: "deflate" }), client, true),
        [],
      );
    } finally {
      await page.close();
    }
  },
});

/**
 * A Deno server that breaks the scenario on purpose: it flips one byte of one
 * echo, and closes the server-close connection with another code.
 */
function startFaultyServer(): ScenarioServer {
  const box = new ReportBox();
  const victim = MESSAGES.findIndex((m) => m.name === VICTIM);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { socket, response, protocol } = denoUpgrade(req);
      let index = 0;
      const send = socket.send.bind(socket);
      socket.send = (data) => {
        if (index++ === victim && data instanceof Uint8Array) data[7] ^= 1;
        send(data);
      };
      const close = socket.close.bind(socket);
      socket.close = (code?: number, reason?: string) =>
        close(code === SERVER_CLOSE.code ? 4998 : code, reason);
      box.add(
        serveSocket(socket as SocketLike, new URL(req.url).pathname, protocol),
      );
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    reports: (count) => box.take(count),
    close: () => server.shutdown(),
  };
}

const VICTIM = "binary 126 B";

Deno.test("harness: the judge reports a corrupted echo and a wrong close code", async () => {
  const want = payload(MESSAGES.find((m) => m.name === VICTIM)!) as Uint8Array;
  assertEquals(await play(startFaultyServer(), denoClient, false), [
    `client: echo of ${VICTIM}: byte 7 is ${want[7] ^ 1}, expected ${want[7]}`,
    "client saw server's close: code 4998, expected 4002",
    "server saw close echo: code 4998, expected 4002",
  ]);
});

Deno.test("harness: the judge reports missing compression and extra extensions", async () => {
  assertEquals(await play(startDenoServer(), denoClient, true), [
    'server: permessage-deflate not negotiated ("")',
    'client: permessage-deflate not negotiated ("")',
  ]);
  const variant = { label: "deflate" };
  assertEquals(
    await play(await startWsServer(variant), wsClient(variant), false),
    [
      'server: unexpected extensions "permessage-deflate"',
      'client: unexpected extensions "permessage-deflate"',
    ],
  );
});
