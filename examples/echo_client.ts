/**
 * An echo client: dials a server, sends a few messages, prints what comes back,
 * and closes.
 *
 * ```sh
 * deno run --allow-net examples/echo_client.ts [ws://127.0.0.1:9001]
 * ```
 *
 * With `--ca ca.pem` it trusts that CA for `wss://` URLs (add `--allow-read`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CloseCode, dial, OpCode } from "@wsx/websocket";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { ca: { type: "string" } },
  allowPositionals: true,
});
const url = positionals[0] ?? "ws://127.0.0.1:9001";
const caCerts = values.ca ? [Deno.readTextFileSync(values.ca)] : undefined;

const conn = await dial(url, { caCerts, timeout: 5_000 });
console.log(`Connected to ${url}`);

const text = new TextDecoder();
const messages: [string, Uint8Array | string][] = [
  ["text", "Hello, echo"],
  ["binary", new Uint8Array([0xde, 0xad, 0xbe, 0xef])],
  ["large binary", new Uint8Array(100_000).fill(7)],
];
for (const [label, data] of messages) {
  const opcode = typeof data === "string" ? OpCode.Text : OpCode.Binary;
  await conn.writeMessage(opcode, data);
  const echo = await conn.readMessage();
  const shown = echo.opcode === OpCode.Text
    ? JSON.stringify(text.decode(echo.data))
    : `${echo.data.length} bytes`;
  console.log(
    `${label}: sent ${
      typeof data === "string" ? data.length : data.length
    }, got ${shown}`,
  );
}

// A message streamed in fragments comes back whole.
const parts = ["one ", "message, ", "three fragments"].map((s) =>
  new TextEncoder().encode(s)
);
await conn.streamMessage(OpCode.Text, ReadableStream.from(parts));
console.log(
  `streamed: got ${
    JSON.stringify(text.decode((await conn.readMessage()).data))
  }`,
);

await conn.close(CloseCode.NormalClosure, "done");
console.log("Closed", await conn.closed);
