/**
 * The testee client for a conformance fuzzing server (the standard protocol of
 * the field): asks for the number of cases, runs each one by echoing every
 * message until the server closes, then asks the server to write its reports.
 * Each case offers permessage-deflate (on the `node:zlib` engine, so that every
 * window size the server may choose is honoured) unless `--no-deflate` is given.
 *
 * ```sh
 * deno run --allow-net examples/autobahn_client.ts [ws://127.0.0.1:9001] [agent] [--no-deflate] [--http2]
 * ```
 *
 * `--http2` opens every WebSocket as a stream of one HTTP/2 connection (RFC 8441),
 * or over HTTP/1.1 when the server does not allow that.
 *
 * @module
 */

import {
  CloseError,
  dial,
  ReadLimit,
  type WebSocketConn,
} from "@wsx/websocket";
import { zlibEngine } from "@wsx/websocket/deflate";
import { Http2Agent } from "@wsx/websocket/http2";

const args = Deno.args.filter((a) => a !== "--no-deflate" && a !== "--http2");
const deflate = !Deno.args.includes("--no-deflate") && { engine: zlibEngine() };
const http2 = Deno.args.includes("--http2") && new Http2Agent();
const base = (args[0] ?? "ws://127.0.0.1:9001").replace(/\/+$/, "");
const agent = args[1] ?? "wsx";

/** Reads messages until the server closes; returns the first text message. */
async function readText(conn: WebSocketConn): Promise<string> {
  let first = "";
  for await (const msg of conn) first ||= new TextDecoder().decode(msg.data);
  return first;
}

/** Echoes every message back until the peer closes or breaks the protocol. */
async function echo(conn: WebSocketConn): Promise<void> {
  try {
    for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
  } catch (err) {
    // Cases that break the protocol on purpose end here; the connection has
    // already answered with the right close code.
    if (!(err instanceof CloseError)) conn.abort();
  }
}

const countConn = await dial(`${base}/getCaseCount`, { http2 });
const count = Number(await readText(countConn));
if (!Number.isInteger(count) || count < 0) {
  throw new Error(`Server sent an invalid case count`);
}
console.log(`Running ${count} cases as ${agent}`);

for (let i = 1; i <= count; i++) {
  const url = `${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`;
  try {
    await echo(
      await dial(url, { readLimit: ReadLimit.Large, deflate, http2 }),
    );
  } catch (err) {
    console.error(`case ${i}: ${err instanceof Error ? err.message : err}`);
  }
  if (i % 50 === 0 || i === count) console.log(`${i}/${count}`);
}

const reports = await dial(
  `${base}/updateReports?agent=${encodeURIComponent(agent)}`,
  { http2 },
);
await readText(reports);
if (http2) http2.close();
console.log("Reports updated");
