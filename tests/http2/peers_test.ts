/**
 * Real peers over loopback TLS with the test certificate: headless Chromium
 * (several WebSockets from a page served over HTTP/2, as streams of the page's
 * connection) and Deno's built-in `WebSocket` client.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { Chromium, chromiumInstalled } from "../interop/_chromium.ts";
import { echo, startServer } from "./_servers.ts";

const PAGE = `<!doctype html><title>wsx h2</title><script>
function openSockets(count) {
  const open = (i) => new Promise((resolve, reject) => {
    const ws = new WebSocket("wss://" + location.host + "/ws/" + i, ["echo"]);
    ws.binaryType = "arraybuffer";
    const got = [];
    const text = "text " + i + " " + "abc".repeat(2000);
    const binary = new Uint8Array(70000).fill(i + 1);
    ws.onopen = () => { ws.send(text); ws.send(binary); };
    ws.onmessage = (e) => {
      got.push(typeof e.data === "string"
        ? e.data === text
        : new Uint8Array(e.data).every((b) => b === i + 1) && e.data.byteLength === 70000);
      if (got.length === 2) ws.close(1000, "done " + i);
    };
    ws.onerror = () => reject(new Error("WebSocket " + i + " failed"));
    ws.onclose = (e) => resolve({
      got, code: e.code, wasClean: e.wasClean,
      extensions: ws.extensions, protocol: ws.protocol,
    });
  });
  return Promise.all(Array.from({ length: count }, (_, i) => open(i)));
}
</script>`;

interface SocketReport {
  got: boolean[];
  code: number;
  wasClean: boolean;
  extensions: string;
  protocol: string;
}

for (const deflate of [false, true]) {
  Deno.test({
    name:
      `chromium: a page over HTTP/2 opens WebSockets as streams of its connection (deflate ${
        deflate ? "on" : "off"
      })`,
    ignore: !chromiumInstalled(),
    async fn() {
      const serverCloses: { code: number; reason: string }[] = [];
      await using s = await startServer({
        tls: true,
        deflate,
        protocols: ["echo"],
        fetch: () =>
          new Response(PAGE, { headers: { "content-type": "text/html" } }),
        websocket: async (conn) => {
          await echo(conn).catch(() => {});
          serverCloses.push(await conn.closed);
        },
      });
      await using browser = await Chromium.launch({
        args: ["--ignore-certificate-errors"],
      });
      const page = await browser.newPage(`https://localhost:${s.port}/`);
      assertEquals(
        await page.evaluate<string>(
          "performance.getEntriesByType('navigation')[0].nextHopProtocol",
        ),
        "h2",
      );
      const reports = await page.evaluate<SocketReport[]>("openSockets(3)");
      assertEquals(reports.length, 3);
      for (const r of reports) {
        assertEquals(r.got, [true, true]);
        assertEquals([r.code, r.wasClean, r.protocol], [1000, true, "echo"]);
        assertEquals(
          r.extensions.startsWith("permessage-deflate"),
          deflate,
          r.extensions,
        );
      }
      // Proof on our side: three streams of one HTTP/2 session.
      assertEquals(s.arrivals.map((a) => a.httpVersion), ["2", "2", "2"]);
      assertEquals(new Set(s.arrivals.map((a) => a.session)).size, 1);
      assertEquals(new Set(s.arrivals.map((a) => a.streamId)).size, 3);
      assertEquals(
        s.conns.map((c) => c.extensions.startsWith("permessage-deflate")),
        [deflate, deflate, deflate],
      );
      while (serverCloses.length < 3) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assertEquals(
        serverCloses.map((c) => c.code),
        [1000, 1000, 1000],
      );
      await page.close();
    },
  });
}

async function denoPeer(url: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./_deno_ws_peer.ts", import.meta.url).pathname,
      url,
    ],
    env: {
      DENO_CERT: new URL("../fixtures/ca.pem", import.meta.url).pathname,
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test("Deno's WebSocket client uses HTTP/1.1 when the port offers it", async () => {
  await using s = await startServer({ tls: true, protocols: ["echo"] });
  const report = await denoPeer(`${s.wsUrl}/deno`);
  assertEquals(report.received, ["hello over h2", true]);
  assertEquals([report.code, report.wasClean], [1000, true]);
  assertEquals(s.arrivals.map((a) => a.httpVersion), ["1.1"]);
});

Deno.test("Deno's WebSocket client speaks extended CONNECT to an HTTP/2-only port", async () => {
  const closes: { code: number; reason: string }[] = [];
  await using s = await startServer({
    tls: true,
    http1: false,
    deflate: true,
    protocols: ["echo"],
    websocket: async (conn) => {
      await echo(conn).catch(() => {});
      closes.push(await conn.closed);
    },
  });
  const report = await denoPeer(`${s.wsUrl}/deno`);
  assertEquals(report.received, ["hello over h2", true]);
  assertEquals([report.code, report.wasClean], [1000, true]);
  assertEquals(report.protocol, "echo");
  // Deno's client offers no permessage-deflate.
  assertEquals(report.extensions, "");
  assertEquals(s.arrivals.map((a) => a.httpVersion), ["2"]);
  while (closes.length < 1) await new Promise((r) => setTimeout(r, 10));
  assertEquals(closes[0], { code: 1000, reason: "bye" });
});
