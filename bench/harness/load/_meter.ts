/**
 * The measuring window shared by the load sources: counts echoed messages and
 * round trips only while it is open, and reads the CPU time of the server, the
 * source itself and the whole machine at its edges; and the statistics the load
 * reports use.
 *
 * @module
 */

import { cpuMs, machineMs, sleep } from "../_process.ts";

/** What one run measured. */
export interface LoadResult {
  /** Messages echoed in the measured window. */
  messages: number;
  /** Messages per second. */
  msgsPerSec: number;
  /** Payload megabytes (10^6) echoed per second, one direction. */
  mbPerSec: number;
  /** Median round trip, in ms. */
  p50Ms: number;
  /** 99th percentile round trip, in ms. */
  p99Ms: number;
  /** Server CPU time per message, in µs. */
  serverCpuUs: number;
  /** Server CPU use over the window, in cores. */
  serverCores: number;
  /** The load source's own CPU use over the window, in cores. */
  generatorCores: number;
  /** The load source's CPU time per message, in µs. */
  generatorCpuUs: number;
  /** CPU used by other processes over the window, in cores: noise. */
  otherCores: number;
  /** CPU spent in interrupts (mostly loopback TCP in softirq), in cores. */
  kernelCores: number;
  /** Connections that failed or ended early. */
  errors: number;
}

const MAX_SAMPLES = 1 << 21;

/** Counts messages and keeps round-trip samples while the window is open. */
export class Meter {
  /** Whether the window is open. */
  measuring = false;
  /** Messages echoed while measuring. */
  messages = 0;
  /** Connections that failed. */
  errors = 0;
  #samples = new Float64Array(MAX_SAMPLES);
  #count = 0;

  /** Records one echoed message and its round trip, when measuring. */
  record(rttMs: number): void {
    if (!this.measuring) return;
    this.messages++;
    if (this.#count < MAX_SAMPLES) this.#samples[this.#count++] = rttMs;
  }

  /**
   * Waits `warmupMs`, then measures for `durationMs`.
   *
   * @param size Payload bytes per message, for MB/s.
   * @param serverPid The server process, for its CPU time.
   */
  async window(
    warmupMs: number,
    durationMs: number,
    size: number,
    serverPid?: number,
  ): Promise<LoadResult> {
    await sleep(warmupMs);
    const serverStart = serverPid ? cpuMs(serverPid) : NaN;
    const selfStart = cpuMs("self");
    const machineStart = machineMs();
    const t0 = performance.now();
    this.measuring = true;
    await sleep(durationMs);
    this.measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const serverMs = serverPid ? cpuMs(serverPid) - serverStart : NaN;
    const selfMs = cpuMs("self") - selfStart;
    const machineEnd = machineMs();
    const others = machineEnd.processes - machineStart.processes - selfMs -
      (Number.isNaN(serverMs) ? 0 : serverMs);
    const kernel = machineEnd.interrupts - machineStart.interrupts;
    const rtts = this.#samples.subarray(0, this.#count).sort();
    const messages = this.messages;
    return {
      messages,
      msgsPerSec: messages / seconds,
      mbPerSec: (messages * size) / seconds / 1e6,
      p50Ms: quantile(rtts, 0.5),
      p99Ms: quantile(rtts, 0.99),
      serverCpuUs: (serverMs * 1000) / messages,
      serverCores: serverMs / 1000 / seconds,
      generatorCores: selfMs / 1000 / seconds,
      generatorCpuUs: (selfMs * 1000) / messages,
      otherCores: Math.max(0, others) / 1000 / seconds,
      kernelCores: kernel / 1000 / seconds,
      errors: this.errors,
    };
  }
}

/** A ring of send times: round trips of in-order echoes. */
export class SendTimes {
  #times: Float64Array;
  #sendAt = 0;
  #recvAt = 0;

  /** Room for `inflight` outstanding messages. */
  constructor(inflight: number) {
    this.#times = new Float64Array(inflight);
  }

  /** Notes that `count` messages leave now. */
  sent(count: number, now: number): void {
    const ring = this.#times;
    for (let i = 0; i < count; i++) {
      ring[this.#sendAt] = now;
      this.#sendAt = this.#sendAt + 1 === ring.length ? 0 : this.#sendAt + 1;
    }
  }

  /** The round trip of the oldest outstanding message, which just came back. */
  received(now: number): number {
    const ring = this.#times;
    const rtt = now - ring[this.#recvAt];
    this.#recvAt = this.#recvAt + 1 === ring.length ? 0 : this.#recvAt + 1;
    return rtt;
  }
}

/** The `q` quantile (0-1) of `sorted`, which must be sorted ascending. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = Math.min(sorted.length - 1, Math.floor(q * sorted.length));
  return sorted[at];
}

/** The median of `values` (NaN ignored). */
export function median(values: number[]): number {
  const known = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (known.length === 0) return NaN;
  const mid = known.length >> 1;
  return known.length % 2 === 1
    ? known[mid]
    : (known[mid - 1] + known[mid]) / 2;
}
