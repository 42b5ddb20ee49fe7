/**
 * The client side: our `Conn` (client role) or Deno's `new WebSocket()` as the load
 * source against a server, with the generator's scenarios. Its own CPU time per
 * message is the figure that compares the two clients. With `deflate` set (an
 * offer of `DEFLATE_OFFERS`), the clients compress: ours through `dial` with
 * the default engine (`ours`) or `zlibEngine()` (`ours-zlib`), and the `ws`
 * package's client (`ws`), since `new WebSocket()` cannot.
 *
 * Run by `run.ts` with one JSON argument (a {@linkcode ClientConfig}); prints one
 * JSON line (a `LoadResult`).
 *
 * @module
 */

// @ts-types="npm:@types/ws@8.18.2"
import { WebSocket as WsClient } from "npm:ws@8.23.0";
import {
  Conn,
  dial,
  OpCode,
  ReadLimit,
  type WebSocketConn,
} from "../../../mod.ts";
import { type DeflateOptions, zlibEngine } from "../../../deflate.ts";
import { asciiText, jsonLikeText, randomBytes } from "../../_frames.ts";
import type { LoadConfig } from "./generator.ts";
import { Meter, SendTimes } from "./_meter.ts";
import { upgrade } from "./_upgrade.ts";
import { jsonArgument } from "../_args.ts";

/** A generator configuration plus the client under test. */
export interface ClientConfig extends LoadConfig {
  /**
   * Our `Conn` after a raw handshake (`ours`; `dial` when compressing, with
   * the zlib engine for `ours-zlib`), our `dial()` with its defaults (`dial`:
   * what a user gets), Deno's built-in `WebSocket`, or (compressing) the `ws`
   * client.
   */
  client: "ours" | "ours-zlib" | "dial" | "websocket" | "ws";
}

const meter = new Meter();
const CONNECT_BATCH = 64;

/** One connection's loop: `inflight` messages out, one more per echo. */
type Driver = () => { run(): Promise<void>; stop(): void };

/** Our client's deflate options for an offer of the generator's. */
function ourDeflate(config: ClientConfig): DeflateOptions {
  const offer = config.deflate!;
  return {
    engine: config.client === "ours-zlib" ? zlibEngine() : undefined,
    serverNoContextTakeover: offer === "no-takeover",
    clientNoContextTakeover: offer === "no-takeover" ||
      offer === "client-no-takeover",
  };
}

/** A plain client `Conn` over our own upgrade, or `dial` when compressing. */
async function ourConn(config: ClientConfig) {
  if (config.deflate) {
    return await dial(`ws://127.0.0.1:${config.port}/`, {
      readLimit: ReadLimit.Large,
      deflate: ourDeflate(config),
    });
  }
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
  tcp.setNoDelay(true);
  const { head } = await upgrade(tcp, `127.0.0.1:${config.port}`);
  return new Conn(tcp, { role: "client", head, readLimit: ReadLimit.Large });
}

async function ours(
  config: ClientConfig,
  payload: Uint8Array | string,
): Promise<Driver> {
  const conn = await ourConn(config);
  if (config.deflate && !conn.extensions.includes("permessage-deflate")) {
    throw new Error("permessage-deflate was not negotiated");
  }
  return loop(conn, config, payload);
}

/** What a user gets: `dial()` with its default options. */
async function dialled(
  config: ClientConfig,
  payload: Uint8Array | string,
): Promise<Driver> {
  const conn = await dial(`ws://127.0.0.1:${config.port}/`);
  return loop(conn, config, payload);
}

/** The load loop over one of our connections: read a message, write one. */
function loop(
  conn: WebSocketConn,
  config: ClientConfig,
  payload: Uint8Array | string,
): Driver {
  const opcode = typeof payload === "string" ? OpCode.Text : OpCode.Binary;
  const times = new SendTimes(config.inflight);
  let stopped = false;
  return () => ({
    async run() {
      try {
        times.sent(config.inflight, performance.now());
        for (let i = 0; i < config.inflight; i++) {
          conn.writeMessage(opcode, payload);
        }
        while (!stopped) {
          await conn.readMessage();
          const now = performance.now();
          meter.record(times.received(now));
          times.sent(1, now);
          await conn.writeMessage(opcode, payload);
        }
      } catch {
        if (!stopped) meter.errors++;
      }
    },
    stop() {
      stopped = true;
      conn.abort();
    },
  });
}

async function websocket(
  config: ClientConfig,
  payload: Uint8Array | string,
): Promise<Driver> {
  const socket = new WebSocket(`ws://127.0.0.1:${config.port}/`);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  const times = new SendTimes(config.inflight);
  let stopped = false;
  return () => ({
    run() {
      return new Promise<void>((resolve) => {
        socket.onmessage = () => {
          if (stopped) return;
          const now = performance.now();
          meter.record(times.received(now));
          times.sent(1, now);
          socket.send(payload);
        };
        socket.onclose = () => resolve();
        socket.onerror = () => {
          if (!stopped) meter.errors++;
        };
        times.sent(config.inflight, performance.now());
        for (let i = 0; i < config.inflight; i++) socket.send(payload);
      });
    },
    stop() {
      stopped = true;
      socket.close();
    },
  });
}

/** The `ws` client with permessage-deflate, offering as the generator does. */
async function ws(
  config: ClientConfig,
  payload: Uint8Array | string,
): Promise<Driver> {
  const none = config.deflate === "no-takeover";
  const socket = new WsClient(`ws://127.0.0.1:${config.port}/`, {
    perMessageDeflate: {
      serverNoContextTakeover: none,
      clientNoContextTakeover: none || config.deflate === "client-no-takeover",
      // Left out, ws offers `client_max_window_bits`; `false` omits it.
      ...(config.deflate === "client-window"
        ? {}
        : { clientMaxWindowBits: false as unknown as number }),
    },
    maxPayload: 16 << 20,
  });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  if (!socket.extensions.includes("permessage-deflate")) {
    throw new Error("permessage-deflate was not negotiated");
  }
  const times = new SendTimes(config.inflight);
  let stopped = false;
  return () => ({
    run() {
      return new Promise<void>((resolve) => {
        socket.on("message", () => {
          if (stopped) return;
          const now = performance.now();
          meter.record(times.received(now));
          times.sent(1, now);
          socket.send(payload);
        });
        socket.on("close", () => resolve());
        socket.on("error", () => {
          if (!stopped) meter.errors++;
        });
        times.sent(config.inflight, performance.now());
        for (let i = 0; i < config.inflight; i++) socket.send(payload);
      });
    },
    stop() {
      stopped = true;
      socket.terminate();
    },
  });
}

/** Runs one measurement with the configured client. */
export async function drive(config: ClientConfig) {
  const payload = config.payload === "random"
    ? randomBytes(config.size)
    : new TextDecoder().decode(
      config.payload === "json"
        ? jsonLikeText(config.size)
        : asciiText(config.size),
    );
  const open = config.client === "websocket"
    ? websocket
    : config.client === "ws"
    ? ws
    : config.client === "dial"
    ? dialled
    : ours;
  const drivers: Driver[] = [];
  for (let at = 0; at < config.conns; at += CONNECT_BATCH) {
    const batch = Math.min(CONNECT_BATCH, config.conns - at);
    drivers.push(
      ...await Promise.all(
        Array.from({ length: batch }, () => open(config, payload)),
      ),
    );
  }
  const loops = drivers.map((make) => make());
  const running = loops.map((loop) => loop.run());
  const result = await meter.window(
    config.warmupMs,
    config.durationMs,
    config.size,
    config.serverPid,
  );
  for (const loop of loops) loop.stop();
  await Promise.race([
    Promise.all(running),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
  return result;
}

if (import.meta.main) {
  const config = jsonArgument<ClientConfig>();
  console.log(JSON.stringify(await drive(config)));
  Deno.exit(0);
}
