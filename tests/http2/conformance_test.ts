/**
 * The conformance suite over HTTP/2: server cases on extended CONNECT streams
 * of one h2c session to `examples/echo_server.ts --http2`, client cases with
 * `examples/autobahn_client.ts --http2` opening its WebSockets as streams of one
 * connection to the harness's h2c server. A sample of every group runs here (the
 * whole suite: `deno task conformance:http2`); any case that is not OK or
 * INFORMATIONAL fails the test.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { startServer } from "../conformance/_processes.ts";
import { runClientSuite, runServerSuite } from "../conformance/_suite.ts";

const SERVER = [
  "deno",
  "run",
  "-A",
  "examples/echo_server.ts",
  "--http2",
  "--port",
  "{port}",
  "--quiet",
];

/** One or a few cases of each group: framing to compression. */
const SAMPLE = [
  "1.1.",
  "1.2.8",
  "2.",
  "3.",
  "4.1.",
  "5.1",
  "5.19",
  "6.2.",
  "7.1.",
  "7.3.",
  "9.1.1",
  "10.",
  "12.1.1",
  "13.1.1",
];

Deno.test({
  name: "the echo server passes the conformance sample over HTTP/2 streams",
  sanitizeResources: false,
  async fn() {
    const { testee, url } = await startServer(SERVER, true);
    try {
      const results = await runServerSuite(url, {
        only: SAMPLE,
        settings: { http2: true },
      });
      const bad = results.filter((r) =>
        r.verdict !== "OK" && r.verdict !== "INFORMATIONAL"
      ).map((r) => `${r.verdict} ${r.id} ${r.title}: ${r.reason}`);
      assertEquals(bad, []);
      assertEquals(results.length > 60, true, `${results.length} cases ran`);
    } finally {
      await testee.stop();
    }
  },
});

Deno.test({
  name: "the client passes the conformance sample over HTTP/2 streams",
  sanitizeResources: false,
  async fn() {
    const results = await runClientSuite({
      only: SAMPLE,
      settings: { http2: true },
      command: ["deno", "run", "-A", "examples/autobahn_client.ts", "--http2"],
      timeoutMs: 120_000,
    });
    const bad = results.filter((r) =>
      r.verdict !== "OK" && r.verdict !== "INFORMATIONAL"
    ).map((r) => `${r.verdict} ${r.id} ${r.title}: ${r.reason}`);
    assertEquals(bad, []);
    assertEquals(results.length > 60, true, `${results.length} cases ran`);
  },
});
