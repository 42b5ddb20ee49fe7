/**
 * A budget for outgoing bytes shared by many connections: `writeBufferLimit`
 * bounds one connection's queue, this bounds the sum over all of them.
 *
 * @module
 */

/**
 * Bytes that may wait in the write queues of every connection sharing it
 * (beyond each connection's scratchpad, which is bounded by its chunk size).
 * A write that would take the total past the limit is refused with
 * `write_buffer_full` (close code 1013, "try again later"), as one past a
 * connection's own `writeBufferLimit` is; the connection stays usable, and the
 * caller may drop it with `conn.fail(err)` (slow readers) or retry later. The
 * frames a connection owes the peer (pongs, its close frame) are counted but
 * never refused: at most one close and two pongs per connection.
 *
 * @example One budget for every connection of a server
 * ```ts
 * import { WriteBudget } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const budget = new WriteBudget(256 << 20); // 256 MiB for all connections
 * // serve(handler, { writeBudget: budget }), or new Conn(t, { role, writeBudget: budget })
 * assertEquals([budget.buffered, budget.refused], [0, 0]);
 * ```
 */
export class WriteBudget {
  /** The most bytes that may wait, over all the connections sharing it. */
  readonly limit: number;
  /** Writes refused so far because the budget was spent. */
  refused = 0;
  /** The most bytes that ever waited at once. */
  peak = 0;
  #buffered = 0;

  /**
   * Makes a budget to share between connections (the `writeBudget` option).
   *
   * @param limit Bytes; a positive integer.
   * @throws {RangeError} For a limit that is not a positive integer.
   */
  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) {
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Bytes waiting now in the queues of the connections sharing the budget. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Takes `bytes` from the budget if they fit, or counts a refusal.
   *
   * @returns Whether they were taken.
   */
  take(bytes: number): boolean {
    if (this.#buffered + bytes > this.limit) {
      this.refused++;
      return false;
    }
    this.force(bytes);
    return true;
  }

  /** Takes `bytes` whether they fit or not: frames owed to the peer. */
  force(bytes: number): void {
    this.#buffered += bytes;
    if (this.#buffered > this.peak) this.peak = this.#buffered;
  }

  /** Gives back bytes taken, once they have left the queue. */
  give(bytes: number): void {
    this.#buffered -= bytes;
  }
}
