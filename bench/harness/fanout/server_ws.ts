/**
 * The broadcast contract on the `ws` package (8.23.0) under Deno: every
 * message is sent to every client by looping over `server.clients`.
 * `--deflate` turns on its permessage-deflate. Prints `listening ws://…`.
 *
 * @module
 */

// @deno-types="npm:@types/ws@8.18.2"
import { WebSocketServer } from "npm:ws@8.23.0";

const deflate = Deno.args.includes("--deflate");
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: deflate,
});
server.on("listening", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null
    ? address.port
    : 0;
  console.log(`listening ws://127.0.0.1:${port}/`);
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    for (const client of server.clients) {
      client.send(data, { binary: isBinary });
    }
  });
  socket.on("error", () => socket.terminate());
});
