/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`, the
 * Rust fastwebsockets engine) echoing every message.
 *
 * @module
 */

import { announce } from "../_process.ts";
import { Flags } from "../_args.ts";

new Flags().done();

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => announce(port),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});
