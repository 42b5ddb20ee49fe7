/**
 * A broker over `BroadcastChannel`: topics across the workers of one process.
 *
 * @module
 */

import { type Broker, type BrokerListener, TopicListeners } from "./broker.ts";

interface Envelope {
  topic: string;
  message: Uint8Array;
}

/**
 * Carries topics between the workers of one process (and the main thread) over
 * one named `BroadcastChannel`. Every message goes to every other worker, which
 * keeps those of its topics; the sender does not get its own back. In Deno the
 * channel does not reach other processes: use the relay or Redis for those.
 *
 * @example The same channel name in every worker
 * ```ts
 * import { BroadcastChannelBroker, Hub } from "@wsx/websocket/hub";
 *
 * const broker = new BroadcastChannelBroker("chat");
 * const hub = new Hub({ broker });
 * await hub.close();
 * ```
 */
export class BroadcastChannelBroker implements Broker {
  #channel: BroadcastChannel | null;
  #listeners = new TopicListeners();

  /**
   * Opens the channel.
   *
   * @param name The channel's name, the same in every worker.
   */
  constructor(name: string) {
    const channel = this.#channel = new BroadcastChannel(name);
    channel.onmessage = (event: MessageEvent<Envelope>) => {
      const { topic, message } = event.data ?? {};
      if (typeof topic !== "string" || !(message instanceof Uint8Array)) return;
      this.#listeners.dispatch(topic, message);
    };
  }

  /** Sends a message to the other workers. */
  publish(topic: string, message: Uint8Array): void {
    this.#channel?.postMessage({ topic, message } satisfies Envelope);
  }

  /** Adds a listener for a topic. */
  subscribe(topic: string, listener: BrokerListener): void {
    this.#listeners.add(topic, listener);
  }

  /** Removes a listener. */
  unsubscribe(topic: string, listener: BrokerListener): void {
    this.#listeners.delete(topic, listener);
  }

  /** Closes the channel. */
  close(): Promise<void> {
    this.#channel?.close();
    this.#channel = null;
    this.#listeners.clear();
    return Promise.resolve();
  }
}
