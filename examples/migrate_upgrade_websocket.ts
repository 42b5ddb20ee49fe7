/**
 * Moving a `Deno.upgradeWebSocket` handler to this module's server unchanged: the
 * chat room below is written against the standard `WebSocket` object. `before`
 * serves it with `Deno.serve` (no compression); `after` serves the same function
 * with `serve` and {@linkcode toWebSocket}, and gains permessage-deflate and the
 * connection limits.
 *
 * ```sh
 * deno run --allow-net examples/migrate_upgrade_websocket.ts [--port 8080] [--before]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { serve, type WebSocketServer } from "@wsx/websocket";
import { toWebSocket } from "@wsx/websocket/web";

/** A broadcast room: every message goes to every member, prefixed by the sender's number. */
export function chatRoom(): (socket: WebSocket) => void {
  const members = new Set<WebSocket>();
  let next = 1;
  return (socket) => {
    const id = next++;
    socket.onopen = () => {
      members.add(socket);
      socket.send(`welcome ${id}`);
    };
    socket.onmessage = (e) => {
      for (const m of members) {
        if (m.readyState === WebSocket.OPEN) m.send(`${id}: ${e.data}`);
      }
    };
    socket.onclose = () => members.delete(socket);
  };
}

/** Before: the room on `Deno.serve` and `Deno.upgradeWebSocket`. */
export function before(port: number): Deno.HttpServer<Deno.NetAddr> {
  const join = chatRoom();
  return Deno.serve({ hostname: "127.0.0.1", port, onListen }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    join(socket);
    return response;
  });
}

/** After: the same room on `serve`, compressed. */
export function after(port: number): WebSocketServer {
  const join = chatRoom();
  return serve(
    { hostname: "127.0.0.1", port, deflate: true, onListen },
    async (conn) => {
      join(toWebSocket(conn));
      await conn.closed;
    },
  );
}

function onListen(addr: Deno.NetAddr): void {
  console.log(`Listening on ws://${addr.hostname}:${addr.port}/`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "8080" },
      before: { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  const server = values.before ? before(port) : after(port);
  Deno.addSignalListener(
    "SIGINT",
    () => server.shutdown().then(() => Deno.exit(0)),
  );
}
