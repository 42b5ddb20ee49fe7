/**
 * The `ws` package (8.23.0) under Deno, echoing every message; `--deflate` turns
 * on its permessage-deflate.
 *
 * @module
 */

// @deno-types="npm:@types/ws@8.18.2"
import { WebSocketServer } from "npm:ws@8.23.0";
import { announce } from "../_process.ts";
import { Flags } from "../_args.ts";

const flags = new Flags();
const deflate = flags.has("deflate");
flags.done();

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: deflate,
});
server.on("listening", () => {
  const address = server.address();
  announce(typeof address === "object" && address !== null ? address.port : 0);
});
server.on("connection", (socket) => {
  socket.on(
    "message",
    (data, isBinary) => socket.send(data, { binary: isBinary }),
  );
  socket.on("error", () => socket.terminate());
});
