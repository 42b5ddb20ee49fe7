/**
 * The client side of the fan-out benchmark: N subscribers connected to
 * broadcast servers (spread over their URLs), of which the first `inflight`
 * also publish. Each publisher keeps one message in flight: it sends the next
 * once every subscriber has the last. Every message carries its publisher and
 * sequence number, so loss, duplication and reordering are counted.
 *
 * @module
 */

import { dial, OpCode, type WebSocketConn } from "@wsx/websocket";
import { zlibEngine } from "@wsx/websocket/deflate";

/** One measurement. */
export interface FanoutCase {
  urls: string[];
  subscribers: number;
  size: number;
  deflate: boolean;
  inflight: number;
  /** Stop after this long (ms) of publishing. */
  durationMs: number;
}

/** What a run measured. */
export interface FanoutResult {
  messages: number;
  deliveriesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  lastP99Ms: number;
  lost: number;
  duplicated: number;
  reordered: number;
}

/** Latency histogram: 10 µs buckets up to 10 s. */
class Histogram {
  #buckets = new Uint32Array(1_000_000);
  #count = 0;
  add(ms: number): void {
    const i = Math.min(
      this.#buckets.length - 1,
      Math.max(0, Math.round(ms * 100)),
    );
    this.#buckets[i]++;
    this.#count++;
  }
  quantile(q: number): number {
    const target = Math.ceil(this.#count * q);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i];
      if (seen >= target && seen > 0) return i / 100;
    }
    return NaN;
  }
}

const MAX_MESSAGES = 1 << 20;
/** How long messages still in flight at the end may take to arrive before they count as lost. */
const DRAIN_MS = 15_000;

/** Filler that compresses like chat text (for the deflate cases). */
function payload(size: number): Uint8Array {
  const words = "hello fan out benchmark message with some words ";
  const bytes = new TextEncoder().encode(
    words.repeat(Math.ceil(size / words.length)),
  );
  return bytes.slice(0, Math.max(size, 8));
}

/** Connects `n` clients, `batch` at a time. */
async function connectAll(
  c: FanoutCase,
): Promise<WebSocketConn[]> {
  const conns: WebSocketConn[] = [];
  const options = {
    readLimit: 1 << 20,
    deflate: c.deflate ? { engine: zlibEngine() } : false,
  };
  for (let i = 0; i < c.subscribers; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(c.subscribers, i + 200); j++) {
      batch.push(dial(c.urls[j % c.urls.length], options));
    }
    conns.push(...await Promise.all(batch));
  }
  return conns;
}

/** Runs one case and closes its clients. */
export async function runFanout(c: FanoutCase): Promise<FanoutResult> {
  const conns = await connectAll(c);
  const n = conns.length;
  const sentAt = new Float64Array(MAX_MESSAGES);
  const counts = new Uint32Array(MAX_MESSAGES);
  const lastSeq = new Int32Array(n * c.inflight).fill(-1);
  const all = new Histogram();
  const last = new Histogram();
  const body = payload(c.size);
  let messages = 0;
  let duplicated = 0;
  let reordered = 0;
  let stopping = false;
  let deliveries = 0;
  const seqs = new Int32Array(c.inflight);
  let start = 0;

  const send = (p: number) => {
    const seq = seqs[p]++;
    const id = seq * c.inflight + p;
    if (id >= MAX_MESSAGES) return;
    const msg = body.slice();
    new DataView(msg.buffer).setUint32(0, id);
    sentAt[id] = performance.now();
    messages = Math.max(messages, id + 1);
    conns[p].writeMessage(OpCode.Binary, msg).catch(() => {});
  };

  let settle!: () => void;
  const drained = new Promise<void>((resolve) => settle = resolve);
  let outstanding = 0;

  const readers = conns.map(async (conn, k) => {
    try {
      for await (const msg of conn) {
        const id = new DataView(msg.data.buffer, msg.data.byteOffset).getUint32(
          0,
        );
        const p = id % c.inflight;
        const seq = (id - p) / c.inflight;
        const slot = k * c.inflight + p;
        if (seq <= lastSeq[slot]) duplicated++;
        else if (seq !== lastSeq[slot] + 1) reordered++;
        lastSeq[slot] = Math.max(lastSeq[slot], seq);
        const now = performance.now();
        all.add(now - sentAt[id]);
        deliveries++;
        if (++counts[id] === n) {
          last.add(now - sentAt[id]);
          outstanding--;
          if (!stopping) {
            outstanding++;
            send(p);
          } else if (outstanding === 0) settle();
        }
      }
    } catch {
      // Closed at the end.
    }
  });

  start = performance.now();
  for (let p = 0; p < c.inflight; p++) {
    outstanding++;
    send(p);
  }
  await new Promise((resolve) => setTimeout(resolve, c.durationMs));
  stopping = true;
  const elapsed = (performance.now() - start) / 1000;
  const measured = deliveries;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    drained,
    new Promise((resolve) => timer = setTimeout(resolve, DRAIN_MS)),
  ]);
  clearTimeout(timer);
  let lost = 0;
  for (let id = 0; id < messages; id++) {
    if (sentAt[id] > 0 && counts[id] < n) lost += n - counts[id];
  }
  for (const conn of conns) conn.abort();
  await Promise.all(readers);
  return {
    messages,
    deliveriesPerSec: measured / elapsed,
    p50Ms: all.quantile(0.5),
    p99Ms: all.quantile(0.99),
    lastP99Ms: last.quantile(0.99),
    lost,
    duplicated,
    reordered,
  };
}
