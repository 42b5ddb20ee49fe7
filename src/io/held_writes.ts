/**
 * The one macrotask that ends every writer's hold: writers that gather replies
 * while their reader has more input buffered join a set, and one `setImmediate`
 * releases all of them. A timer per writer and batch would cost more than the
 * write the batch saves.
 *
 * @module
 */

/** What holds frames until released: a frame writer. */
export interface Holder {
  /** Ends the hold: writes what gathered. */
  release(): void;
}

const holding = new Set<Holder>();
let scheduled = false;

const releaseOne = (holder: Holder): void => holder.release();

function releaseAll(): void {
  scheduled = false;
  holding.forEach(releaseOne);
}

/**
 * Makes sure `holder.release()` runs by the next macrotask at the latest.
 *
 * @example
 * ```ts
 * import { holdUntilNextTask } from "./held_writes.ts";
 * import { assert } from "@std/assert";
 *
 * let released = false;
 * holdUntilNextTask({ release: () => released = true });
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * assert(released);
 * ```
 *
 * @param holder Released once, unless it lets go first.
 */
export function holdUntilNextTask(holder: Holder): void {
  holding.add(holder);
  if (!scheduled) {
    scheduled = true;
    setImmediate(releaseAll);
  }
}

/**
 * Forgets a holder that released (or abandoned its hold) by itself, so that
 * nothing stays referenced here longer than its hold.
 *
 * @example
 * ```ts
 * import { holdUntilNextTask, letGo } from "./held_writes.ts";
 * import { assert } from "@std/assert";
 *
 * let released = false;
 * const holder = { release: () => released = true };
 * holdUntilNextTask(holder);
 * letGo(holder);
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * assert(!released);
 * ```
 *
 * @param holder A holder passed to {@linkcode holdUntilNextTask}.
 */
export function letGo(holder: Holder): void {
  holding.delete(holder);
}
