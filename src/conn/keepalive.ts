/**
 * Liveness: pings on an interval that expect pongs back, and the idle timer that
 * fails a connection when nothing arrives while a read waits. Both run only while
 * the caller awaits them (a `keepAlive()` call, a pending read).
 *
 * @module
 */

import { WebSocketError } from "../codec/errors.ts";
import { sleep } from "../_timers.ts";

/** The connection a keep-alive loop works on. */
export interface Pingable {
  readonly closed: Promise<unknown>;
  /** Pongs received so far. */
  pongs(): number;
  finished(): boolean;
  ping(): Promise<void>;
  abort(): void;
}

/**
 * Pings every `intervalMs` until `signal` aborts or the connection closes; a ping
 * still unanswered at the next one aborts the connection.
 *
 * @throws {WebSocketError} With code `pong_timeout` when a ping went unanswered.
 */
export async function keepAlive(
  conn: Pingable,
  intervalMs: number,
  signal?: AbortSignal,
): Promise<void> {
  let seen = conn.pongs();
  let waiting = false;
  while (!signal?.aborted && !conn.finished()) {
    await sleep(intervalMs, signal, conn.closed);
    if (signal?.aborted || conn.finished()) return;
    if (waiting && conn.pongs() === seen) {
      conn.abort();
      throw new WebSocketError(
        "pong_timeout",
        `No pong within ${intervalMs} ms of a ping`,
      );
    }
    seen = conn.pongs();
    waiting = true;
    await conn.ping();
  }
}

/**
 * Fails a connection when no transport read completes for `timeout` ms while a
 * read is waiting. Armed by each read; one timer per connection at most.
 */
export class IdleTimer {
  #timeout: number;
  #progress: () => number;
  #onIdle: (error: WebSocketError) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seen = 0;
  #waiting: () => boolean;

  /**
   * @param timeout The idle time in ms; 0 turns the timer off.
   * @param progress Counts completed transport reads.
   * @param waiting Whether a read is still waiting when the timer fires.
   * @param onIdle Fails the connection.
   */
  constructor(
    timeout: number,
    progress: () => number,
    waiting: () => boolean,
    onIdle: (error: WebSocketError) => void,
  ) {
    this.#timeout = timeout;
    this.#progress = progress;
    this.#waiting = waiting;
    this.#onIdle = onIdle;
  }

  /** Starts the timer for a read, unless it runs already or is off. */
  arm(): void {
    if (this.#timeout === 0 || this.#timer !== undefined) return;
    this.#seen = this.#progress();
    this.#timer = setTimeout(this.#fire, this.#timeout);
  }

  /** Stops the timer for good. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timeout = 0;
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (!this.#waiting()) return;
    if (this.#progress() !== this.#seen) return this.arm();
    this.#onIdle(
      new WebSocketError(
        "idle_timeout",
        `Nothing received for ${this.#timeout} ms`,
      ),
    );
  };
}
