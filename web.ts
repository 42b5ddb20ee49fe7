/**
 * The web-standard faces of this module: a `WebSocket` class with the browser's
 * interface, for client code and third-party libraries written against it, and
 * {@linkcode toWebSocket} for server handlers written for `Deno.upgradeWebSocket`;
 * each negotiates permessage-deflate and applies the connection's limits.
 *
 * A separate entry point, so that importing it is the whole migration:
 * `import { WebSocket } from "@wsx/websocket/web";`.
 *
 * @example A client, as in a browser
 * ```ts ignore
 * import { WebSocket } from "@wsx/websocket/web";
 *
 * const ws = new WebSocket("wss://example.com/chat", ["chat.v1"]);
 * ws.onmessage = (e) => console.log(e.data);
 * ws.onopen = () => ws.send("hello");
 * ```
 *
 * @module
 */

export { WebSocket } from "./src/faces/websocket.ts";
export type { WebSocketOptions } from "./src/faces/websocket.ts";
export { toWebSocket } from "./src/faces/to_websocket.ts";
export { WebSocketStream } from "./src/faces/websocket_stream.ts";
export type {
  WebSocketCloseInfo,
  WebSocketOpenInfo,
  WebSocketStreamOptions,
} from "./src/faces/websocket_stream.ts";
export { toWebSocketStream } from "./src/faces/to_websocket_stream.ts";
