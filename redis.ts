/**
 * Topics across nodes through Redis (or Valkey) pub/sub, for the hub of
 * `@wsx/websocket/hub`. The only entry point with a runtime dependency: the
 * `npm:redis` client (v5), loaded only by this module.
 *
 * Delivery is at most once: a node that loses Redis reconnects with backoff
 * (50 ms doubling to 2 s) and subscribes again, but what was published during
 * the outage is lost, on both sides (publishes fail at once and are counted in
 * `RedisBroker.lost`).
 *
 * @example Two nodes, one room
 * ```ts ignore
 * import { serve } from "@wsx/websocket";
 * import { Hub } from "@wsx/websocket/hub";
 * import { connectRedisBroker } from "@wsx/websocket/redis";
 *
 * const hub = new Hub({ broker: await connectRedisBroker("redis://127.0.0.1:6379") });
 * serve({ port: 9002 }, async (conn) => {
 *   hub.subscribe(conn, "room");
 *   for await (const msg of conn) hub.publish("room", msg.data, { opcode: msg.opcode });
 * });
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createClient } from "redis";
import {
  RedisBroker,
  type RedisBrokerOptions,
  type RedisPubSub,
} from "./src/hub/redis_broker.ts";

export { RedisBroker };
export type { RedisBrokerOptions, RedisPubSub };

const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 2_000;

/**
 * Connects to Redis with `npm:redis` (two connections: one publishes, one
 * subscribes) and returns a broker over them.
 *
 * @example
 * ```ts ignore
 * import { connectRedisBroker } from "@wsx/websocket/redis";
 *
 * const broker = await connectRedisBroker("redis://127.0.0.1:6379", { prefix: "chat:" });
 * await broker.close();
 * ```
 *
 * @param url A `redis://` or `rediss://` URL.
 * @param options The channel prefix and an error callback (also called with
 * the clients' connection errors while they reconnect).
 * @returns The broker, once both connections are up.
 */
export async function connectRedisBroker(
  url: string,
  options: RedisBrokerOptions = {},
): Promise<RedisBroker> {
  const onError = options.onError ?? (() => {});
  const publisher = createClient({
    url,
    // Publishes fail at once while Redis is down instead of piling up.
    disableOfflineQueue: true,
    socket: {
      reconnectStrategy: (retries: number) =>
        Math.min(BACKOFF_FIRST_MS * 2 ** retries, BACKOFF_MAX_MS),
    },
  });
  // Subscriptions made during an outage wait for the reconnection.
  const subscriber = publisher.duplicate({ disableOfflineQueue: false });
  publisher.on("error", onError);
  subscriber.on("error", onError);
  try {
    await publisher.connect();
    await subscriber.connect();
  } catch (err) {
    publisher.destroy();
    subscriber.destroy();
    throw err;
  }
  const pubsub: RedisPubSub = {
    publish: (channel, message) =>
      publisher.publish(
        channel,
        Buffer.from(message.buffer, message.byteOffset, message.length),
      ),
    subscribe: (channel, onMessage) =>
      subscriber.subscribe(
        channel,
        (message: Buffer) => onMessage(message),
        true,
      ),
    unsubscribe: (channel) => subscriber.unsubscribe(channel),
    close: async () => {
      for (const client of [publisher, subscriber]) {
        if (client.isReady) await client.close().catch(() => client.destroy());
        else client.destroy();
      }
    },
  };
  return new RedisBroker(pubsub, options);
}
