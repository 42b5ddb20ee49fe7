/**
 * An interactive client in the spirit of `wscat`: each line typed is sent as a
 * text message and each message received is printed, until either side closes
 * or standard input ends.
 *
 * ```sh
 * deno run --allow-net examples/wscat.ts ws://127.0.0.1:9001 [--protocol chat] \
 *   [--ca ca.pem (needs --allow-read)]
 * ```
 *
 * Commands: `/ping [text]` sends a ping (its pong is printed), `/close [code]
 * [reason]` closes with that code (default 1000), `/help` lists them. Received
 * text is printed as `< text`, binary as `< [binary N bytes] <hex>`, notes as
 * `* ...`. The exit code is 0 after a closing handshake, 1 otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CloseCode,
  dial,
  OpCode,
  type WebSocketConn,
  WebSocketError,
} from "@wsx/websocket";

const HELP = "* /ping [text] | /close [code] [reason] | anything else is sent";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function note(line: string): void {
  console.log(`* ${line}`);
}

function hex(bytes: Uint8Array, max = 32): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (b) => b.toString(16).padStart(2, "0"),
  ).join(" ");
  return bytes.length > max ? `${shown} …` : shown;
}

/** Yields the lines of standard input, without their line endings. */
async function* lines(): AsyncGenerator<string> {
  let pending = "";
  for await (
    const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    for (const part of parts) yield part.replace(/\r$/, "");
  }
  if (pending) yield pending;
}

/** Runs one typed line; returns false once the line asked to close. */
async function command(conn: WebSocketConn, line: string): Promise<boolean> {
  const [word, ...rest] = line.split(" ");
  if (word === "/ping") {
    await conn.ping(encoder.encode(rest.join(" ")));
  } else if (word === "/close") {
    const code = rest.length > 0 ? Number(rest[0]) : CloseCode.NormalClosure;
    try {
      await conn.close(code, rest.slice(1).join(" "));
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      note(err.message); // an invalid code or a reason too long
      return true;
    }
    return false;
  } else if (word === "/help") {
    console.log(HELP);
  } else {
    await conn.writeMessage(OpCode.Text, line);
  }
  return true;
}

async function printMessages(conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) {
    if (msg.opcode === OpCode.Text) {
      console.log(`< ${decoder.decode(msg.data)}`);
    } else {
      console.log(`< [binary ${msg.data.length} bytes] ${hex(msg.data)}`);
    }
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      protocol: { type: "string", multiple: true },
      ca: { type: "string" },
    },
    allowPositionals: true,
  });
  const url = positionals[0];
  if (url === undefined) {
    console.error(
      "Usage: wscat.ts ws://host:port/path [--protocol p] [--ca file]",
    );
    return 2;
  }
  const conn = await dial(url, {
    protocols: values.protocol,
    caCerts: values.ca ? [Deno.readTextFileSync(values.ca)] : undefined,
    onPong: (payload) => note(`pong ${decoder.decode(payload)}`.trimEnd()),
  });
  note(
    `connected to ${url}${conn.protocol ? ` (protocol ${conn.protocol})` : ""}`,
  );

  const reading = printMessages(conn);
  const typing = (async () => {
    for await (const line of lines()) {
      if (!await command(conn, line)) return;
    }
    await conn.close(); // standard input ended
  })();
  try {
    // Whichever ends first: the peer's close ends the reads, ours the typing.
    await Promise.race([reading, typing]);
    await reading;
  } catch (err) {
    const code = err instanceof WebSocketError ? ` (${err.closeCode})` : "";
    note(`failed${code}: ${err instanceof Error ? err.message : err}`);
    conn.abort();
    return 1;
  }
  const { code, reason } = await conn.closed;
  note(`closed ${code}${reason ? ` ${reason}` : ""}`);
  return code === CloseCode.AbnormalClosure ? 1 : 0;
}

// Standard input may still be waiting for a line: exit rather than wait for it.
if (import.meta.main) Deno.exit(await main());
