/**
 * Keep-alive with dead-peer detection. Each side pings every `--interval` ms with
 * `keepAlive()`; a peer that has not answered a ping by the next one is taken as
 * dead and its connection dropped, so a hung peer is found within two intervals.
 * The client also sets an idle timeout: when nothing at all (not even a ping)
 * arrives for three intervals, it closes with 1001.
 *
 * ```sh
 * # a server that echoes messages and drops clients that stop answering pings
 * deno run --allow-net examples/keepalive.ts server [--port 9003] [--interval 1000]
 * # a client that answers 3 pings, then plays dead: the server drops it
 * deno run --allow-net examples/keepalive.ts client [--url ws://127.0.0.1:9003] \
 *   [--interval 1000] [--answer 3]
 * ```
 *
 * The client exits with 0 after a closing handshake, 1 when the connection was
 * dropped (by either side's detection) or failed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CloseCode,
  dial,
  serve,
  type WebSocketConn,
  WebSocketError,
} from "@wsx/websocket";

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs the keep-alive next to `work` (which must keep reading) until both end. */
async function withKeepAlive(
  conn: WebSocketConn,
  intervalMs: number,
  onDead: (err: unknown) => void,
  work: () => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const alive = conn.keepAlive(intervalMs, stop.signal).catch(onDead);
  try {
    await work();
  } finally {
    stop.abort();
    await alive;
  }
}

async function server(hostname: string, port: number, interval: number) {
  const stop = new AbortController();
  let next = 1;
  const server = serve({
    hostname,
    port,
    signal: stop.signal,
    onListen: (addr) =>
      console.log(
        `Keep-alive server on ws://${addr.hostname}:${addr.port}, pinging every ${interval} ms`,
      ),
  }, async (conn) => {
    const id = `client #${next++}`;
    console.log(`${id} connected`);
    try {
      await withKeepAlive(
        conn,
        interval,
        (err) => console.log(`${id} is dead (${describe(err)}): dropped`),
        async () => {
          for await (const msg of conn) {
            await conn.writeMessage(msg.opcode, msg.data);
          }
        },
      );
      console.log(`${id} closed`);
    } catch (err) {
      // The read loop ends with the dropped connection.
      if (!(err instanceof WebSocketError)) throw err;
    }
  });
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await server.finished;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  console.log("Keep-alive server stopped");
  return 0;
}

async function client(
  url: string,
  interval: number,
  answer: number,
): Promise<number> {
  let answered = 0;
  const conn = await dial(url, { idleTimeout: 3 * interval });
  conn.onPing = (payload) => {
    if (answered === answer) return; // playing dead from now on
    answered++;
    console.log(
      `ping ${answered} answered${
        answered === answer ? "; now playing dead" : ""
      }`,
    );
    return conn.pong(payload);
  };
  console.log(`Connected to ${url}`);
  let dead = false;
  try {
    await withKeepAlive(conn, interval, (err) => {
      dead = true;
      console.log(`The server is dead (${describe(err)})`);
    }, async () => {
      for await (const _ of conn) {
        // Only pings are expected; reading is what answers them.
      }
    });
  } catch (err) {
    if (!dead) console.log(`Connection ended: ${describe(err)}`);
    return 1;
  }
  const { code, reason } = await conn.closed;
  console.log(`Closed ${code}${reason ? ` ${reason}` : ""}`);
  return dead || code === CloseCode.AbnormalClosure ? 1 : 0;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      hostname: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "9003" },
      url: { type: "string", default: "ws://127.0.0.1:9003" },
      interval: { type: "string", default: "1000" },
      answer: { type: "string", default: "Infinity" },
    },
    allowPositionals: true,
  });
  const interval = Number(values.interval);
  const port = Number(values.port);
  const answer = Number(values.answer);
  const valid = interval >= 10 && port >= 0 && port <= 65535 && answer >= 0;
  if (valid && positionals[0] === "server") {
    return await server(values.hostname, port, interval);
  }
  if (valid && positionals[0] === "client") {
    return await client(values.url, interval, answer);
  }
  console.error(
    "Usage: keepalive.ts server [--port 9003] [--interval 1000]\n" +
      "       keepalive.ts client [--url ws://127.0.0.1:9003] [--interval 1000] [--answer N]",
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main());
