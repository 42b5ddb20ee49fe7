/**
 * A chat server: the page at `GET /` and WebSockets at `/ws?name=...` on one
 * port. The room is a topic of a `Hub`: every message is framed once and that
 * one frame goes to everyone, each connection with a bounded queue of its own.
 *
 * ```sh
 * deno run --allow-net examples/chat_server.ts [--port 8080] [--hostname 127.0.0.1]
 * ```
 *
 * Then open http://127.0.0.1:8080/ in two tabs. Clients send `{"text": "..."}`;
 * the server broadcasts `{"name", "text", "at"}`, and `{"system"}` notices when
 * someone joins or leaves.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  CloseCode,
  OpCode,
  ReadLimit,
  type WebSocketConn,
} from "@wsx/websocket";
import { Hub } from "@wsx/websocket/hub";
import { createNodeServer } from "@wsx/websocket/node";
import { CHAT_PAGE } from "./chat_page.ts";

const MAX_NAME = 32;
const MAX_TEXT = 500;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    hostname: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8080" },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid port: ${values.port}`);
  Deno.exit(2);
}

const ROOM = "chat";
/** A client that lets 1 MiB pile up unread is closed (1013): it holds up nobody. */
const hub = new Hub({ maxQueuedBytes: 1 << 20, overflow: "close" });
/** Everyone connected, for the shutdown. */
const room = new Set<WebSocketConn>();
const text = new TextDecoder();

/** Sends `message` to everyone in the room, without waiting for anyone. */
function broadcast(message: Record<string, unknown>): void {
  if (stopping) return;
  hub.publish(ROOM, JSON.stringify(message));
}

/** Takes `{"text": "..."}` from a client; anything else is ignored. */
function parseText(data: Uint8Array): string {
  try {
    const value = JSON.parse(text.decode(data))?.text;
    return typeof value === "string" ? value.trim().slice(0, MAX_TEXT) : "";
  } catch {
    return "";
  }
}

let stopping = false;
const server = createNodeServer({
  readLimit: ReadLimit.Small,
  writeBufferLimit: 1 << 20,
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/") {
      return new Response(CHAT_PAGE, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    return new Response("Not found", { status: 404 });
  },
  async websocket(conn, request) {
    const url = new URL(request.url);
    if (url.pathname !== "/ws") {
      await conn.close(CloseCode.PolicyViolation, "Unknown path");
      return;
    }
    const name =
      (url.searchParams.get("name") ?? "").trim().slice(0, MAX_NAME) ||
      "anonymous";
    room.add(conn);
    hub.subscribe(conn, ROOM);
    try {
      broadcast({
        system: `${name} joined (${hub.subscriberCount(ROOM)} here)`,
      });
      for await (const msg of conn) {
        if (msg.opcode !== OpCode.Text) continue;
        const said = parseText(msg.data);
        if (said) broadcast({ name, text: said, at: Date.now() });
      }
    } finally {
      room.delete(conn);
      hub.unsubscribe(conn, ROOM);
      broadcast({ system: `${name} left` });
    }
  },
});

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    [...room].map((conn) =>
      conn.close(CloseCode.GoingAway, "Server shutting down")
    ),
  );
  server.closeAllConnections();
  server.close(() => console.log("Chat server stopped"));
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
server.on("close", () => {
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
});

server.listen(port, values.hostname, () => {
  const addr = server.address() as { address: string; port: number };
  console.log(`Chat server on http://${addr.address}:${addr.port}/`);
});
