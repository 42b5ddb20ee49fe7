/**
 * A reference echo server on `npm:ws`, known to be conformant, used to prove the
 * harness: it must score no FAILED case.
 *
 * Usage: `deno run -A tests/conformance/peers/ws_echo_server.ts [--port N] [--no-deflate] [--skip-utf8]`
 *
 * @module
 */

import { WebSocketServer } from "npm:ws@8.23.0";

const args = Deno.args;
const portAt = args.indexOf("--port");
const port = portAt >= 0 ? Number(args[portAt + 1]) : 9001;
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: 16 * 1024 * 1024,
  // ws limits a server's fragments per message to 16384 by default; a conformance
  // testee accepts any number (4 MiB in 64-byte fragments is 65536).
  maxFragments: 0,
  perMessageDeflate: args.includes("--no-deflate") ? false : { threshold: 0 },
  // A deliberately broken variant, to check that the harness notices.
  skipUTF8Validation: args.includes("--skip-utf8"),
});
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => {});
});
server.on(
  "listening",
  () => console.log(`ws echo server on ws://127.0.0.1:${port}/`),
);
