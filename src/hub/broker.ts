/**
 * The broker interface between hubs: bytes published to a topic reach the hubs
 * of every other process or node that has subscribers for it. Adapters: Redis
 * pub/sub (`@wsx/websocket/redis`), `BroadcastChannel` (the workers of one
 * process), and a relay for the processes of one machine.
 *
 * @module
 */

/**
 * Receives the messages of a topic from a broker.
 *
 * @example
 * ```ts
 * import type { BrokerListener } from "@wsx/websocket/hub";
 * import { assertEquals } from "@std/assert";
 *
 * const seen: string[] = [];
 * const listener: BrokerListener = (message, topic) => seen.push(`${topic}:${message.length}`);
 * listener(new Uint8Array(3), "room");
 * assertEquals(seen, ["room:3"]);
 * ```
 */
export type BrokerListener = (message: Uint8Array, topic: string) => void;

/**
 * Moves opaque messages between processes or nodes. Subscriptions are counted
 * per listener: the broker subscribes upstream when a topic gets its first
 * listener and unsubscribes when it loses its last. Delivery is at most once:
 * what is published while the broker is disconnected is lost. A broker may
 * deliver a node's own messages back to it (the hub recognises and skips them).
 *
 * @example A broker inside one process, for tests
 * ```ts
 * import { type Broker, TopicListeners } from "@wsx/websocket/hub";
 *
 * class LocalBroker implements Broker {
 *   #listeners = new TopicListeners();
 *   publish(topic: string, message: Uint8Array) {
 *     this.#listeners.dispatch(topic, message);
 *   }
 *   subscribe = this.#listeners.add;
 *   unsubscribe = this.#listeners.delete;
 *   close() {
 *     return Promise.resolve();
 *   }
 * }
 * new LocalBroker().publish("room", new Uint8Array(1));
 * ```
 */
export interface Broker {
  /** Sends a message to every listener of `topic` on every node (fire and forget). */
  publish(topic: string, message: Uint8Array): void;
  /** Adds a listener for `topic`. */
  subscribe(topic: string, listener: BrokerListener): void;
  /** Removes a listener added with {@linkcode Broker.subscribe}. */
  unsubscribe(topic: string, listener: BrokerListener): void;
  /** Disconnects; no listener is called afterwards. */
  close(): Promise<void>;
}

/**
 * The listeners of each topic, for broker adapters: `add` and `delete` tell
 * when a topic gains its first listener or loses its last, which is when an
 * adapter subscribes or unsubscribes upstream.
 *
 * @example
 * ```ts
 * import { TopicListeners } from "@wsx/websocket/hub";
 * import { assertEquals } from "@std/assert";
 *
 * const topics = new TopicListeners();
 * const seen: string[] = [];
 * const listener = (_: Uint8Array, topic: string) => seen.push(topic);
 * assertEquals(topics.add("room", listener), true);
 * topics.dispatch("room", new Uint8Array(1));
 * assertEquals(topics.delete("room", listener), true);
 * assertEquals(seen, ["room"]);
 * ```
 */
export class TopicListeners {
  #topics = new Map<string, Set<BrokerListener>>();

  /**
   * Adds a listener.
   *
   * @returns `true` when it is the topic's first.
   */
  add = (topic: string, listener: BrokerListener): boolean => {
    let set = this.#topics.get(topic);
    const first = set === undefined;
    if (set === undefined) this.#topics.set(topic, set = new Set());
    set.add(listener);
    return first;
  };

  /**
   * Removes a listener.
   *
   * @returns `true` when it was the topic's last.
   */
  delete = (topic: string, listener: BrokerListener): boolean => {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(listener)) return false;
    if (set.size > 0) return false;
    this.#topics.delete(topic);
    return true;
  };

  /** The topics with at least one listener. */
  topics(): IterableIterator<string> {
    return this.#topics.keys();
  }

  /** Calls every listener of `topic`; a listener that throws does not stop the others. */
  dispatch(topic: string, message: Uint8Array): void {
    const set = this.#topics.get(topic);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        listener(message, topic);
      } catch (err) {
        console.error("A broker listener threw:", err);
      }
    }
  }

  /** Forgets every listener. */
  clear(): void {
    this.#topics.clear();
  }
}

/** Message bytes on a broker: opcode, origin, payload. */
export const ENVELOPE_HEAD = 9;
