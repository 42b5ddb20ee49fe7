/**
 * Publish/subscribe for `@wsx/websocket`: a {@linkcode Hub} of topics in one
 * process, and the {@linkcode Broker} interface that carries them between
 * processes and nodes ({@linkcode BroadcastChannelBroker} for the workers of
 * one process; Redis in `@wsx/websocket/redis`).
 *
 * @example A room where every message reaches everyone, the sender included
 * ```ts ignore
 * import { serve } from "@wsx/websocket";
 * import { Hub } from "@wsx/websocket/hub";
 *
 * const hub = new Hub();
 * serve({ port: 9002 }, async (conn) => {
 *   hub.subscribe(conn, "room");
 *   for await (const msg of conn) hub.publish("room", msg.data, { opcode: msg.opcode });
 * });
 * ```
 *
 * @module
 */

export { Hub } from "./src/hub/hub.ts";
export type { HubOptions, HubStats, PublishOptions } from "./src/hub/hub.ts";
export { TopicListeners } from "./src/hub/broker.ts";
export type { Broker, BrokerListener } from "./src/hub/broker.ts";
export { BroadcastChannelBroker } from "./src/hub/broadcast_channel_broker.ts";
export { RelayBroker, serveRelay } from "./src/hub/relay.ts";
