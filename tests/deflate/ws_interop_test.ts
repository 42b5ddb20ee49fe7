/**
 * permessage-deflate against `ws` from npm over loopback, both roles: with and
 * without context takeover, and each window-bits variant either side may ask for.
 */

// @ts-types="npm:@types/ws@8.18.2"
import { WebSocket as WsClient, WebSocketServer } from "npm:ws@8.23.0";
import { assert, assertEquals } from "@std/assert";
import { accept, dial, OpCode, Rsv, type WebSocketConn } from "../../mod.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import type { DeflateOptions } from "../../src/deflate/negotiate.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import { enc } from "../_wire.ts";

/** ws's perMessageDeflate options, as far as these tests use them. */
interface WsDeflate {
  threshold?: number;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

interface Variant {
  label: string;
  ws: WsDeflate;
  ours: DeflateOptions;
  /** The expected Sec-WebSocket-Extensions, or "" when declined. */
  agreed: string;
}

const zlib: DeflateEngine = zlibEngine();
const TIMEOUT = 10_000;

/** Messages of every size class, text and binary. */
function messages(): (string | Uint8Array)[] {
  const json = (n: number) =>
    JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ id: i, name: `user${i % 13}` })),
    );
  const bytes = new Uint8Array(70_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  return [
    "",
    "Hello",
    json(10),
    json(400),
    bytes,
    json(5000),
    "€".repeat(3000),
  ];
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Timed out: ${what}`)),
        TIMEOUT,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function same(a: string | Uint8Array, b: unknown): boolean {
  if (typeof a === "string") return a === String(b);
  const u = new Uint8Array(b as ArrayBuffer);
  return u.length === a.length && u.every((x, i) => x === a[i]);
}

/** Echoes until the peer closes; counts compressed messages. */
async function echo(conn: WebSocketConn): Promise<number> {
  let compressed = 0;
  for await (const msg of conn) {
    if (msg.rsv & Rsv.Rsv1) compressed++;
    await conn.writeMessage(msg.opcode, msg.data.slice());
  }
  return compressed;
}

const SERVER_VARIANTS: Variant[] = [
  {
    label: "context takeover",
    ws: {},
    ours: {},
    agreed: "permessage-deflate",
  },
  {
    label: "no context takeover",
    ws: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ours: {},
    agreed:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({
    label: `client_max_window_bits=${bits}`,
    ws: { clientMaxWindowBits: bits },
    ours: {},
    agreed: `permessage-deflate; client_max_window_bits=${bits}`,
  })),
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({
    label: `server_max_window_bits=${bits}, zlib engine`,
    ws: { serverMaxWindowBits: bits },
    ours: { engine: zlib },
    agreed: `permessage-deflate; server_max_window_bits=${bits}`,
  })),
  // The default engine keeps small windows of its own with zlib.
  ...[8, 10, 14].map((bits) => ({
    label: `server_max_window_bits=${bits}, default engine`,
    ws: { serverMaxWindowBits: bits },
    ours: {},
    agreed: `permessage-deflate; server_max_window_bits=${bits}`,
  })),
  {
    label: "server_max_window_bits=10, CompressionStream given: declined",
    ws: { serverMaxWindowBits: 10 },
    ours: { engine: compressionStreamEngine() },
    agreed: "",
  },
  {
    label: "server asks for client_max_window_bits=9, zlib engine",
    ws: {},
    ours: { engine: zlib, clientMaxWindowBits: 9 },
    agreed: "permessage-deflate; client_max_window_bits=9",
  },
];

for (const v of SERVER_VARIANTS) {
  Deno.test(`ws client -> our server: ${v.label}`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const options: DeflateOptions = { threshold: 0, ...v.ours };
    const served = (async () => {
      const conn = await accept(await listener.accept(), {
        deflate: options,
      });
      assertEquals(conn.extensions, v.agreed);
      return await echo(conn);
    })();
    served.catch(() => {});
    const ws = new WsClient(`ws://127.0.0.1:${listener.addr.port}`, {
      perMessageDeflate: { threshold: 0, ...v.ws },
    });
    ws.binaryType = "arraybuffer";
    try {
      await within(
        new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        }),
        "open",
      );
      // ws reports the names only.
      assertEquals(ws.extensions, v.agreed.split(";")[0]);
      const sent = messages();
      const received: unknown[] = [];
      const all = new Promise<void>((resolve) => {
        ws.on("message", (data: unknown) => {
          received.push(data);
          if (received.length === sent.length) resolve();
        });
      });
      for (const m of sent) ws.send(m);
      await within(all, "echoes");
      sent.forEach((m, i) => assert(same(m, received[i]), `message ${i}`));
      const closed = new Promise((resolve) => ws.once("close", resolve));
      ws.close(1000);
      await within(closed, "close");
      const compressed = await within(served, "server");
      // ws compresses everything at threshold 0 once negotiated.
      assertEquals(compressed, v.agreed === "" ? 0 : sent.length);
    } finally {
      ws.terminate();
      listener.close();
    }
  });
}

const CLIENT_VARIANTS: Variant[] = [
  {
    label: "context takeover",
    ws: {},
    ours: {},
    agreed: "permessage-deflate",
  },
  {
    label: "no context takeover, asked by our client",
    ws: {},
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    agreed:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  {
    label: "no context takeover, required by ws",
    ws: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ours: {},
    agreed:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  },
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({
    label: `server_max_window_bits=${bits} asked by our client`,
    ws: {},
    ours: { serverMaxWindowBits: bits },
    agreed: `permessage-deflate; server_max_window_bits=${bits}`,
  })),
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((bits) => ({
    label: `client_max_window_bits=${bits} asked by ws, zlib engine`,
    ws: { clientMaxWindowBits: bits },
    ours: { engine: zlib },
    agreed: `permessage-deflate; client_max_window_bits=${bits}`,
  })),
];

for (const v of CLIENT_VARIANTS) {
  Deno.test(`our client -> ws server: ${v.label}`, async () => {
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: { threshold: 0, ...v.ws },
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    const received = new Promise<number>((resolve) => {
      wss.on("connection", (socket: WsClient) => {
        let count = 0;
        socket.on("message", (data: unknown, isBinary: boolean) => {
          count++;
          socket.send(data as Uint8Array, { binary: isBinary });
        });
        socket.on("close", () => resolve(count));
      });
    });
    const { port } = wss.address() as { port: number };
    const options: DeflateOptions = { threshold: 0, ...v.ours };
    try {
      const conn = await dial(`ws://127.0.0.1:${port}`, {
        deflate: options,
      });
      assertEquals(conn.extensions, v.agreed);
      const sent = messages();
      for (const m of sent) {
        await conn.writeMessage(
          typeof m === "string" ? OpCode.Text : OpCode.Binary,
          m,
        );
      }
      for (const m of sent) {
        const msg = await within(conn.readMessage(), "echo");
        assertEquals(msg.rsv, Rsv.Rsv1);
        const expected = typeof m === "string" ? enc(m) : m;
        assertEquals(msg.data, expected);
      }
      await within(conn.close(), "close");
      assertEquals(await within(received, "server"), sent.length);
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });
}
