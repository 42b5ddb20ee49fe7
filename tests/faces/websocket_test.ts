/**
 * The `WebSocket` face: the shared behaviour suite on this module's class and on
 * Deno's built-in one, then what only ours does (compression, options).
 *
 * @module
 */

import { WebSocket as OurWebSocket } from "../../web.ts";
import { websocketBehaviour } from "./_websocket_behaviour.ts";

// Where Deno 2.9's class departs from the standard: abnormal closures report
// code 0 (not 1006), MessageEvent.origin is the socket's URL (not its origin),
// and a send after close() is not counted in bufferedAmount.
websocketBehaviour("built-in", globalThis.WebSocket, {
  abnormalCode: 0,
  originIsUrl: true,
  lateSendsUncounted: true,
});
websocketBehaviour("ours", OurWebSocket);

// Ours is assignable wherever the built-in class is expected (type check only).
const _assignable: typeof globalThis.WebSocket = OurWebSocket;
