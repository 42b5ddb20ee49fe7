/**
 * The key under which the server-side faces hand an open connection to the
 * `WebSocket` and `WebSocketStream` constructors instead of a dial. Not exported
 * from any entry point.
 *
 * @module
 */

import type { WebSocketConn } from "../conn/websocket_conn.ts";

/** Options key: the connection to adopt. */
export const ADOPT: unique symbol = Symbol("adopt");

/** Options carrying a connection to adopt. */
export interface Adopting {
  [ADOPT]?: WebSocketConn;
}
