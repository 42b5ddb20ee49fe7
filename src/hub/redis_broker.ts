/**
 * A broker over Redis (or Valkey) pub/sub, written against a small interface
 * that any well-kept Redis client fills: `@wsx/websocket/redis` fills it with
 * `npm:redis`, so this file depends on no client.
 *
 * @module
 */

import { type Broker, type BrokerListener, TopicListeners } from "./broker.ts";

/**
 * What {@linkcode RedisBroker} needs of a Redis client: a connection that
 * publishes and one in subscriber mode. The client reconnects by itself and
 * subscribes again to its channels after a reconnection.
 *
 * @example Filled by hand, for illustration
 * ```ts
 * import type { RedisPubSub } from "@wsx/websocket/redis";
 *
 * const channels = new Map<string, (m: Uint8Array) => void>();
 * const pubsub: RedisPubSub = {
 *   publish: async (channel, message) => channels.get(channel)?.(message),
 *   subscribe: async (channel, onMessage) => void channels.set(channel, onMessage),
 *   unsubscribe: async (channel) => void channels.delete(channel),
 *   close: async () => channels.clear(),
 * };
 * await pubsub.close();
 * ```
 */
export interface RedisPubSub {
  /** `PUBLISH channel message`; rejects (and the message is lost) while disconnected. */
  publish(channel: string, message: Uint8Array): Promise<unknown>;
  /** `SUBSCRIBE channel`, calling `onMessage` with each message's bytes. */
  subscribe(
    channel: string,
    onMessage: (message: Uint8Array) => void,
  ): Promise<unknown>;
  /** `UNSUBSCRIBE channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Closes both connections. */
  close(): Promise<unknown>;
}

/**
 * Options of {@linkcode RedisBroker}.
 *
 * @example
 * ```ts
 * import type { RedisBrokerOptions } from "@wsx/websocket/redis";
 * import { assertEquals } from "@std/assert";
 *
 * const errors: unknown[] = [];
 * const options: RedisBrokerOptions = { prefix: "chat:", onError: (e) => errors.push(e) };
 * assertEquals(options.prefix, "chat:");
 * ```
 */
export interface RedisBrokerOptions {
  /** Put before every topic to make its channel name (default `"wsx:"`). */
  prefix?: string;
  /** Called with errors of publishes and subscriptions (default: ignored). */
  onError?: (error: unknown) => void;
}

/**
 * A {@linkcode Broker} over Redis pub/sub: one channel per topic, subscribed
 * while this node has listeners for it. Delivery is Redis's: at most once, in
 * order per publishing connection, and nothing kept for a node that is
 * disconnected, so what is published during an outage is lost.
 *
 * @example
 * ```ts ignore
 * import { Hub } from "@wsx/websocket/hub";
 * import { connectRedisBroker } from "@wsx/websocket/redis";
 *
 * const hub = new Hub({ broker: await connectRedisBroker("redis://127.0.0.1:6379") });
 * ```
 */
export class RedisBroker implements Broker {
  #redis: RedisPubSub;
  #prefix: string;
  #onError: (error: unknown) => void;
  #listeners = new TopicListeners();
  #closed = false;
  /** Messages whose publish failed (Redis down, or the client refused). */
  lost = 0;

  /**
   * Wraps two Redis connections.
   *
   * @param redis The publishing and subscribing connections.
   * @param options The channel prefix, an error callback.
   */
  constructor(redis: RedisPubSub, options: RedisBrokerOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "wsx:";
    this.#onError = options.onError ?? ignore;
  }

  /** Publishes to the topic's channel; lost (and counted) when Redis is down. */
  publish(topic: string, message: Uint8Array): void {
    if (this.#closed) return;
    this.#redis.publish(this.#prefix + topic, message).catch((err) => {
      this.lost++;
      this.#onError(err);
    });
  }

  /** Adds a listener; the topic's first subscribes to its channel. */
  subscribe(topic: string, listener: BrokerListener): void {
    if (this.#closed || !this.#listeners.add(topic, listener)) return;
    this.#redis.subscribe(
      this.#prefix + topic,
      (message) => this.#listeners.dispatch(topic, message),
    ).catch(this.#onError);
  }

  /** Removes a listener; the topic's last unsubscribes from its channel. */
  unsubscribe(topic: string, listener: BrokerListener): void {
    if (this.#closed || !this.#listeners.delete(topic, listener)) return;
    this.#redis.unsubscribe(this.#prefix + topic).catch(this.#onError);
  }

  /** Closes both Redis connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#redis.close();
  }
}

function ignore(): void {}
