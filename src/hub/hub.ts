/**
 * Topics in one process: connections subscribe to topics, a publish reaches
 * every subscriber, and with a {@linkcode Broker} every subscriber of every
 * other process or node too.
 *
 * @module
 */

import { withTimeout } from "../_timers.ts";
import { CloseCode } from "../codec/close_code.ts";
import { type DataOpCode, OpCode } from "../codec/opcode.ts";
import { PreparedMessage } from "../conn/prepared_message.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { type Broker, type BrokerListener, ENVELOPE_HEAD } from "./broker.ts";
import { Kind, Subscriber } from "./subscriber.ts";

const DEFAULT_MAX_QUEUED = 1 << 20;
/** How long a slow subscriber's closing handshake may take before an abort. */
const SLOW_CLOSE_MS = 1_000;

/** What the hub needs of a connection that takes frames (`Conn`, the deflate one). */
interface FrameConn {
  writeFrames(frames: Uint8Array): Promise<void>;
  frameFor(message: PreparedMessage): Uint8Array | Promise<Uint8Array> | null;
}

/**
 * How a {@linkcode Hub} treats slow subscribers and where it meets other nodes.
 *
 * @example
 * ```ts
 * import { Hub, type HubOptions } from "@wsx/websocket/hub";
 * import { assertThrows } from "@std/assert";
 *
 * const options: HubOptions = { maxQueuedBytes: 256 * 1024, overflow: "close" };
 * new Hub(options);
 * assertThrows(() => new Hub({ maxQueuedBytes: 0 }), RangeError);
 * ```
 */
export interface HubOptions {
  /**
   * Bytes that may wait for one subscriber, in the hub and in its connection's
   * write buffer together (default 1 MiB). A message that would pass the bound
   * is handled by `overflow`; a message larger than the bound still goes to a
   * subscriber with nothing waiting.
   */
  maxQueuedBytes?: number;
  /**
   * Past the bound: `"drop"` (default) skips the message for that subscriber
   * and counts it in `stats.dropped`; `"close"` closes the connection with
   * 1013 (try again later), removes it and counts it in `stats.closed`.
   */
  overflow?: "drop" | "close";
  /** Carries publishes to and from the hubs of other processes or nodes. */
  broker?: Broker;
}

/**
 * Options of {@linkcode Hub.publish}.
 *
 * @example
 * ```ts
 * import { OpCode } from "@wsx/websocket";
 * import { Hub, type PublishOptions } from "@wsx/websocket/hub";
 * import { assertEquals } from "@std/assert";
 *
 * const options: PublishOptions = { opcode: OpCode.Binary };
 * assertEquals(new Hub().publish("nobody", "x", options), 0);
 * ```
 */
export interface PublishOptions {
  /** A local subscriber that does not get the message (usually its sender). */
  except?: WebSocketConn;
  /** `OpCode.Text` or `OpCode.Binary`; by default text for a string, else binary. */
  opcode?: DataOpCode;
}

/**
 * Totals since the hub was made.
 *
 * @example
 * ```ts
 * import { Hub } from "@wsx/websocket/hub";
 * import { assertEquals } from "@std/assert";
 *
 * const hub = new Hub();
 * hub.publish("room", "nobody listens");
 * assertEquals(hub.stats, { published: 1, sent: 0, dropped: 0, closed: 0 });
 * ```
 */
export interface HubStats {
  /** Messages published on this hub (not those that came from the broker). */
  published: number;
  /** Messages handed to a subscriber's connection, counted per subscriber. */
  sent: number;
  /** Messages skipped for a subscriber: past its bound, or its write failed. */
  dropped: number;
  /** Subscribers closed with 1013 for being too slow. */
  closed: number;
}

/**
 * A publish/subscribe hub over WebSocket connections.
 *
 * A publish frames the message once: plain server connections share that
 * frame; servers with permessage-deflate and no context takeover share one
 * compressed frame per window; only connections with context takeover (and
 * clients, which mask) encode it themselves. Publishing never waits: each
 * subscriber has its own bounded queue, written at most once per event-loop
 * turn, so all the publishes of one turn leave in one transport write, and a
 * subscriber that stops reading delays nobody else. Closed connections leave
 * their topics by themselves.
 *
 * @example A room: every message goes to everyone else in it
 * ```ts ignore
 * import { serve } from "@wsx/websocket";
 * import { Hub } from "@wsx/websocket/hub";
 *
 * const hub = new Hub();
 * serve({ port: 8080 }, async (conn) => {
 *   hub.subscribe(conn, "room");
 *   for await (const msg of conn) {
 *     hub.publish("room", msg.data, { opcode: msg.opcode, except: conn });
 *   }
 * });
 * ```
 */
export class Hub {
  /** Totals since the hub was made (live: read them at any time). */
  readonly stats: HubStats = { published: 0, sent: 0, dropped: 0, closed: 0 };
  #topics = new Map<string, Set<Subscriber>>();
  #subscribers = new Map<WebSocketConn, Subscriber>();
  #maxQueued: number;
  #close: boolean;
  #broker: Broker | null;
  /** A random id that marks this hub's messages on the broker. */
  #origin = crypto.getRandomValues(new Uint8Array(ENVELOPE_HEAD - 1));
  #dirty: Subscriber[] = [];
  #flushing: Subscriber[] = [];
  #flushScheduled = false;
  /** Frames concatenated for one subscriber, reused by the next with the same frames. */
  #batchFrames: Uint8Array[] = [];
  #batch: Uint8Array | null = null;
  #frames: Uint8Array[] = [];

  /**
   * Makes a hub.
   *
   * @param options The bound per subscriber, the overflow policy, the broker.
   * @throws {RangeError} For a bound that is not a positive number.
   */
  constructor(options: HubOptions = {}) {
    const max = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED;
    if (!(max > 0)) throw new RangeError(`Invalid maxQueuedBytes: ${max}`);
    this.#maxQueued = max;
    this.#close = options.overflow === "close";
    this.#broker = options.broker ?? null;
  }

  /**
   * Subscribes a connection to a topic.
   *
   * @returns `false` when it already was.
   */
  subscribe(conn: WebSocketConn, topic: string): boolean {
    let sub = this.#subscribers.get(conn);
    if (sub === undefined) sub = this.#add(conn);
    if (sub.topics.has(topic)) return false;
    sub.topics.add(topic);
    let set = this.#topics.get(topic);
    if (set === undefined) {
      this.#topics.set(topic, set = new Set());
      this.#broker?.subscribe(topic, this.#fromBroker);
    }
    set.add(sub);
    return true;
  }

  /**
   * Unsubscribes a connection from a topic.
   *
   * @returns `false` when it was not subscribed.
   */
  unsubscribe(conn: WebSocketConn, topic: string): boolean {
    const sub = this.#subscribers.get(conn);
    if (sub === undefined || !sub.topics.delete(topic)) return false;
    // The subscriber stays until its connection closes: messages it still has
    // queued keep their order before any of a later subscription.
    this.#leave(sub, topic);
    return true;
  }

  /** Whether a connection is subscribed to a topic. */
  isSubscribed(conn: WebSocketConn, topic: string): boolean {
    return this.#subscribers.get(conn)?.topics.has(topic) ?? false;
  }

  /** The topics a connection is subscribed to. */
  topicsOf(conn: WebSocketConn): string[] {
    const sub = this.#subscribers.get(conn);
    return sub === undefined ? [] : [...sub.topics];
  }

  /** The number of connections subscribed to a topic in this process. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * Sends a message to every subscriber of a topic, here and (with a broker)
   * on every other node, without waiting for any of them.
   *
   * @param topic The topic.
   * @param data The payload; a string is sent as UTF-8. It is copied.
   * @param options A subscriber to skip, the opcode.
   * @returns The number of local subscribers the message was queued for.
   */
  publish(
    topic: string,
    data: Uint8Array | string,
    options?: PublishOptions,
  ): number {
    const opcode = options?.opcode ??
      (typeof data === "string" ? OpCode.Text : OpCode.Binary);
    const message = new PreparedMessage(opcode, data);
    this.stats.published++;
    if (this.#broker !== null) {
      this.#broker.publish(topic, this.#envelope(message));
    }
    return this.#deliver(topic, message, options?.except);
  }

  /** Closes the broker; subscribers stay (their connections are the caller's). */
  async close(): Promise<void> {
    const broker = this.#broker;
    this.#broker = null;
    await broker?.close();
  }

  // ------------------------------------------------------------ membership

  #add(conn: WebSocketConn): Subscriber {
    const sub = new Subscriber(conn);
    sub.onWritten = () => this.#written(sub);
    sub.onFailed = () => this.#failed(sub);
    this.#subscribers.set(conn, sub);
    const remove = () => this.#remove(sub);
    conn.closed.then(remove, remove);
    return sub;
  }

  #leave(sub: Subscriber, topic: string): void {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(sub) || set.size > 0) return;
    this.#topics.delete(topic);
    this.#broker?.unsubscribe(topic, this.#fromBroker);
  }

  #remove(sub: Subscriber): void {
    if (sub.removed) return;
    sub.removed = true;
    for (const topic of sub.topics) this.#leave(sub, topic);
    sub.topics.clear();
    sub.take();
    if (this.#subscribers.get(sub.conn) === sub) {
      this.#subscribers.delete(sub.conn);
    }
  }

  // ------------------------------------------------------------ delivery

  #deliver(
    topic: string,
    message: PreparedMessage,
    except: WebSocketConn | undefined,
  ): number {
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    const size = message.frame.length;
    let queued = 0;
    for (const sub of set) {
      if (sub.conn === except) continue;
      const waiting = sub.pendingBytes + sub.conn.bufferedAmount;
      if (waiting > 0 && waiting + size > this.#maxQueued) {
        this.#overflow(sub);
        continue;
      }
      sub.pending.push(message);
      sub.pendingBytes += size;
      queued++;
      if (!sub.scheduled && sub.writing < 0) this.#schedule(sub);
    }
    return queued;
  }

  #overflow(sub: Subscriber): void {
    if (!this.#close) {
      sub.dropped++;
      this.stats.dropped++;
      return;
    }
    this.stats.closed++;
    this.stats.dropped += sub.pending.length + 1;
    this.#remove(sub);
    closeSlow(sub.conn);
  }

  #schedule(sub: Subscriber): void {
    sub.scheduled = true;
    this.#dirty.push(sub);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /** Once per event-loop turn: one write for each subscriber with messages. */
  #flush = (): void => {
    this.#flushScheduled = false;
    const list = this.#dirty;
    this.#dirty = this.#flushing;
    this.#flushing = list;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i];
      sub.scheduled = false;
      if (!sub.removed && sub.writing < 0) this.#write(sub);
    }
    list.length = 0;
    this.#batch = null;
    this.#batchFrames.length = 0;
  };

  #write(sub: Subscriber): void {
    const messages = sub.take();
    const n = messages.length;
    if (n === 0) return;
    sub.writing = n;
    let written: Promise<void>;
    try {
      written = sub.kind === Kind.Own
        ? writeEach(sub.conn, messages)
        : this.#writeFrames(sub, messages);
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(sub.onWritten, sub.onFailed);
  }

  /** Writes the frames of `messages` to a plain or sharing server connection. */
  #writeFrames(sub: Subscriber, messages: PreparedMessage[]): Promise<void> {
    const conn = sub.conn as unknown as FrameConn;
    const frames = this.#frames;
    frames.length = 0;
    let later = false;
    for (let i = 0; i < messages.length; i++) {
      const frame = sub.kind === Kind.Plain
        ? messages[i].frame
        : conn.frameFor(messages[i])!;
      later ||= frame instanceof Promise;
      frames.push(frame as Uint8Array);
    }
    if (!later) return conn.writeFrames(this.#concat(frames));
    const pending = Promise.all(frames as (Uint8Array | Promise<Uint8Array>)[]);
    return pending.then((all) => conn.writeFrames(concat(all)));
  }

  /** The frames as one buffer, shared with the last subscriber that had the same. */
  #concat(frames: Uint8Array[]): Uint8Array {
    if (frames.length === 1) return frames[0];
    const last = this.#batchFrames;
    if (this.#batch !== null && sameFrames(last, frames)) return this.#batch;
    this.#batch = concat(frames);
    last.length = 0;
    for (let i = 0; i < frames.length; i++) last.push(frames[i]);
    return this.#batch;
  }

  #written(sub: Subscriber): void {
    this.stats.sent += sub.writing;
    sub.writing = -1;
    if (!sub.removed && sub.pending.length > 0) this.#schedule(sub);
  }

  #failed(sub: Subscriber): void {
    this.stats.dropped += sub.writing + sub.pending.length;
    sub.writing = -1;
    this.#remove(sub);
    sub.conn.abort();
  }

  // ------------------------------------------------------------ broker

  /** `[opcode][origin x8][payload]` */
  #envelope(message: PreparedMessage): Uint8Array {
    const out = new Uint8Array(ENVELOPE_HEAD + message.data.length);
    out[0] = message.opcode;
    out.set(this.#origin, 1);
    out.set(message.data, ENVELOPE_HEAD);
    return out;
  }

  #fromBroker: BrokerListener = (bytes, topic) => {
    if (bytes.length < ENVELOPE_HEAD) return;
    const opcode = bytes[0];
    if (opcode !== OpCode.Text && opcode !== OpCode.Binary) return;
    if (this.#isOwn(bytes)) return;
    const payload = bytes.subarray(ENVELOPE_HEAD);
    this.#deliver(topic, new PreparedMessage(opcode, payload), undefined);
  };

  #isOwn(bytes: Uint8Array): boolean {
    const origin = this.#origin;
    for (let i = 0; i < origin.length; i++) {
      if (bytes[i + 1] !== origin[i]) return false;
    }
    return true;
  }
}

/**
 * Closes a slow subscriber with 1013. Its close frame waits behind what it did
 * not read, so the connection is aborted if the handshake has not ended soon.
 */
async function closeSlow(conn: WebSocketConn): Promise<void> {
  const closing = conn.close(CloseCode.TryAgainLater, "Subscriber too slow");
  const done = await withTimeout(closing, SLOW_CLOSE_MS).catch(() => false);
  if (!done) conn.abort();
}

/** Each message through the connection's own `writePrepared`, in order. */
function writeEach(
  conn: WebSocketConn,
  messages: PreparedMessage[],
): Promise<void> {
  let last: Promise<void> = Promise.resolve();
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) last.catch(ignore);
    last = conn.writePrepared(messages[i]);
  }
  return last;
}

function sameFrames(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(frames: Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0];
  let size = 0;
  for (let i = 0; i < frames.length; i++) size += frames[i].length;
  const out = new Uint8Array(size);
  for (let i = 0, at = 0; i < frames.length; i++) {
    out.set(frames[i], at);
    at += frames[i].length;
  }
  return out;
}

function ignore(): void {}
