/**
 * The global (built-in) WebSocket interface's instance type, under a name the
 * face's own `WebSocket` class does not shadow.
 *
 * @module
 */

/** The instance type of the built-in `WebSocket`. */
export type StdWebSocket = WebSocket;
/** The built-in `WebSocket` event map. */
export type StdWebSocketEventMap = WebSocketEventMap;
