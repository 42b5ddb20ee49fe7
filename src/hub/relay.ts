/**
 * Topics between the processes of one machine without an outside broker: a
 * relay that speaks WebSocket on 127.0.0.1, and the broker that talks to it.
 *
 * Every relay message is one binary WebSocket message: a kind byte
 * (publish 1, subscribe 2, unsubscribe 3), the topic's UTF-8 length (1 byte),
 * the topic, then for a publish the message. The relay is itself a
 * {@linkcode Hub}: a publish goes, unchanged, to every other connection
 * subscribed to its topic.
 *
 * @module
 */

import { OpCode } from "../codec/opcode.ts";
import { dial } from "../handshake/dial.ts";
import { serve, type WebSocketServer } from "../servers/serve.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { type Broker, type BrokerListener, TopicListeners } from "./broker.ts";
import { Hub } from "./hub.ts";

const PUBLISH = 1;
const SUBSCRIBE = 2;
const UNSUBSCRIBE = 3;
const MAX_TOPIC = 255;
const RELAY_READ_LIMIT = 64 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `[kind][topic length][topic][message]` */
function relayMessage(
  kind: number,
  topic: string,
  message?: Uint8Array,
): Uint8Array {
  const name = encoder.encode(topic);
  if (name.length > MAX_TOPIC) {
    throw new RangeError(`A relayed topic has at most ${MAX_TOPIC} bytes`);
  }
  const out = new Uint8Array(2 + name.length + (message?.length ?? 0));
  out[0] = kind;
  out[1] = name.length;
  out.set(name, 2);
  if (message !== undefined) out.set(message, 2 + name.length);
  return out;
}

function topicOf(bytes: Uint8Array): string | null {
  if (bytes.length < 2 || bytes.length < 2 + bytes[1]) return null;
  return decoder.decode(bytes.subarray(2, 2 + bytes[1]));
}

/**
 * Starts a relay on 127.0.0.1 (a free port unless given): the processes of
 * one machine connect their {@linkcode RelayBroker} to its URL.
 *
 * @example
 * ```ts
 * import { RelayBroker, serveRelay } from "@wsx/websocket/hub";
 *
 * const relay = serveRelay();
 * const broker = new RelayBroker(relay.url);
 * await broker.close();
 * await relay.shutdown();
 * ```
 *
 * @param port The port, 0 (default) for a free one.
 * @returns The running relay's server and URL.
 */
export function serveRelay(port = 0): WebSocketServer & { url: string } {
  const hub = new Hub({ maxQueuedBytes: RELAY_READ_LIMIT });
  const server = serve(
    {
      hostname: "127.0.0.1",
      port,
      readLimit: RELAY_READ_LIMIT,
      onListen() {},
      onError() {},
    },
    (conn) => relayConn(hub, conn),
  );
  return Object.assign(server, { url: `ws://127.0.0.1:${server.addr.port}/` });
}

async function relayConn(hub: Hub, conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) {
    const topic = topicOf(msg.data);
    if (msg.opcode !== OpCode.Binary || topic === null) continue;
    const kind = msg.data[0];
    if (kind === PUBLISH) {
      hub.publish(topic, msg.data, { except: conn, opcode: OpCode.Binary });
    } else if (kind === SUBSCRIBE) {
      hub.subscribe(conn, topic);
    } else if (kind === UNSUBSCRIBE) {
      hub.unsubscribe(conn, topic);
    }
  }
}

const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 2_000;

/**
 * A broker over a {@linkcode serveRelay} relay. It reconnects with backoff
 * (50 ms doubling to 2 s) and subscribes again to its topics; what is
 * published while it is disconnected is lost.
 *
 * @example
 * ```ts ignore
 * import { Hub, RelayBroker } from "@wsx/websocket/hub";
 *
 * const hub = new Hub({ broker: new RelayBroker(Deno.env.get("RELAY_URL")!) });
 * ```
 */
export class RelayBroker implements Broker {
  #url: string;
  #listeners = new TopicListeners();
  #conn: WebSocketConn | null = null;
  #closed = false;
  #running: Promise<void>;
  #wake: (() => void) | null = null;

  /**
   * Connects (in the background) to a relay.
   *
   * @param url The relay's `ws://` URL.
   */
  constructor(url: string) {
    this.#url = url;
    this.#running = this.#run();
  }

  /** Whether the broker is connected to the relay now. */
  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Sends a message to the other processes; dropped while disconnected. */
  publish(topic: string, message: Uint8Array): void {
    this.#send(relayMessage(PUBLISH, topic, message));
  }

  /** Adds a listener; the first of a topic subscribes at the relay. */
  subscribe(topic: string, listener: BrokerListener): void {
    if (this.#listeners.add(topic, listener)) {
      this.#send(relayMessage(SUBSCRIBE, topic));
    }
  }

  /** Removes a listener; the last of a topic unsubscribes at the relay. */
  unsubscribe(topic: string, listener: BrokerListener): void {
    if (this.#listeners.delete(topic, listener)) {
      this.#send(relayMessage(UNSUBSCRIBE, topic));
    }
  }

  /** Disconnects for good. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#wake?.();
    this.#conn?.abort();
    await this.#running;
  }

  #send(bytes: Uint8Array): void {
    this.#conn?.writeMessage(OpCode.Binary, bytes).catch(ignore);
  }

  async #run(): Promise<void> {
    let backoff = BACKOFF_FIRST_MS;
    while (!this.#closed) {
      try {
        const conn = await dial(this.#url, { readLimit: RELAY_READ_LIMIT });
        if (this.#closed) {
          conn.abort();
          return;
        }
        this.#conn = conn;
        backoff = BACKOFF_FIRST_MS;
        for (const topic of this.#listeners.topics()) {
          this.#send(relayMessage(SUBSCRIBE, topic));
        }
        for await (const msg of conn) this.#receive(msg.data);
      } catch {
        // Refused or dropped: try again after the backoff.
      }
      this.#conn = null;
      if (this.#closed) return;
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  #receive(bytes: Uint8Array): void {
    const topic = topicOf(bytes);
    if (bytes[0] !== PUBLISH || topic === null) return;
    this.#listeners.dispatch(topic, bytes.subarray(2 + bytes[1]));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

function ignore(): void {}
