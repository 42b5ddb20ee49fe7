/**
 * The broadcast contract on Bun: every client subscribes to one topic and
 * every message goes out through `server.publish`. `--deflate` turns on its
 * permessage-deflate. Run with `bun`; prints `listening ws://…`.
 *
 * @module
 */

const { Bun } = globalThis;
const deflate = Bun.argv.includes("--deflate");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, srv) {
    if (srv.upgrade(request)) return undefined;
    return new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    perMessageDeflate: deflate,
    maxPayloadLength: 1 << 20,
    backpressureLimit: 1 << 20,
    open(ws) {
      ws.subscribe("room");
    },
    message(_ws, message) {
      server.publish("room", message);
    },
  },
});
console.log(`listening ws://127.0.0.1:${server.port}/`);
