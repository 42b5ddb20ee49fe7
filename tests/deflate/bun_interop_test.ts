/**
 * permessage-deflate against a Bun server, whose compressor without context
 * takeover ends small messages with a final block and a 00 octet (RFC 7692
 * §7.2.3.4). Runs where `BUN_BIN` names a Bun binary (for example
 * `npm install bun@1.3.5` in a scratch directory, then
 * `BUN_BIN=…/node_modules/bun/bin/bun.exe`); skipped otherwise.
 */

import { assertEquals } from "@std/assert";
import { dial, OpCode } from "../../mod.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { dec } from "../_wire.ts";

const BUN = Deno.env.get("BUN_BIN");
const ENGINES: DeflateEngine[] = [compressionStreamEngine(), zlibEngine()];

/** An echo server with Bun's compressor `compress`; prints its port. */
const SERVER = (compress: string) => `
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, server) { return server.upgrade(req) ? undefined : new Response("no", { status: 400 }); },
  websocket: {
    perMessageDeflate: { compress: ${
  JSON.stringify(compress)
}, decompress: true },
    message(ws, msg) { ws.send(msg, true); },
  },
});
console.log(server.port);
`;

async function withBun(
  compress: string,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const child = new Deno.Command(BUN!, {
    args: ["-e", SERVER(compress)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    let text = "";
    const deadline = Date.now() + 10_000;
    while (!text.includes("\n") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec(value);
    }
    await fn(Number(text.trim()));
  } finally {
    child.kill();
    await reader.cancel();
    await child.status;
  }
}

const TEXTS = [
  "Hello",
  '{"user":"alice","action":"say","text":"hello everyone"}',
  "hello everyone ".repeat(200),
  "x".repeat(100_000),
];

for (const engine of ENGINES) {
  for (const compress of ["shared", "dedicated"]) {
    Deno.test({
      name: `${engine.name}: a Bun server's compressed echoes (${compress})`,
      ignore: BUN === undefined,
      fn: () =>
        withBun(compress, async (port) => {
          const conn = await dial(`ws://127.0.0.1:${port}`, {
            deflate: { engine, threshold: 0 },
          });
          try {
            assertEquals(
              conn.extensions.startsWith("permessage-deflate"),
              true,
            );
            for (let round = 0; round < 3; round++) {
              for (const text of TEXTS) {
                await conn.writeMessage(OpCode.Text, text);
                const msg = await conn.readMessage();
                assertEquals(dec(msg.data), text);
                assertEquals(msg.rsv !== 0, true, "compressed");
              }
            }
          } finally {
            conn.abort();
          }
        }),
    });
  }
}
