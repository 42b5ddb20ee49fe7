/**
 * The one way the project times things: a deadline as an abort signal, a bounded
 * wait, and a sleep that wakes early. Every timer is cleared once it has served.
 *
 * @module
 */

/**
 * Waits for a promise at most `ms` and tells whether it settled in time. The
 * timer is cleared either way; a rejection of `promise` in time is passed on.
 *
 * @example A wait that ends in time and one that does not
 * ```ts
 * import { withTimeout } from "./_timers.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await withTimeout(Promise.resolve(), 1_000), true);
 * assertEquals(await withTimeout(new Promise(() => {}), 1), false);
 * ```
 *
 * @param promise What to wait for.
 * @param ms The longest wait, in ms.
 * @returns `true` when `promise` fulfilled within `ms`, `false` when time ran out.
 */
export async function withTimeout(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sleeps `ms`, waking early when `signal` aborts (or already has) or when `closed`
 * settles. Never rejects.
 *
 * @example Woken by an abort
 * ```ts
 * import { sleep } from "./_timers.ts";
 * import { assert } from "@std/assert";
 *
 * const start = Date.now();
 * await sleep(60_000, AbortSignal.timeout(5));
 * assert(Date.now() - start < 60_000);
 * ```
 *
 * @param ms How long to sleep, in ms.
 * @param signal Wakes the sleeper when it aborts.
 * @param closed Wakes the sleeper when it settles.
 * @returns A promise that resolves on waking.
 */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  closed?: Promise<unknown>,
): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    closed?.then(done, done);
  });
}

/**
 * A signal that aborts when a parent signal does or when a time runs out.
 *
 * @example A deadline that runs out
 * ```ts
 * import { Deadline } from "./_timers.ts";
 * import { assert } from "@std/assert";
 *
 * const deadline = new Deadline(10, undefined, () => new Error("Too slow"));
 * await new Promise((resolve) => deadline.signal.onabort = resolve);
 * assert(deadline.signal.reason instanceof Error);
 * deadline.clear();
 * ```
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onParentAbort = () => this.#abort(this.#parent!.reason);

  /**
   * Starts the clock.
   *
   * @param ms How long until the signal aborts; `Infinity` for never.
   * @param parent A signal whose abort is passed on, with its reason.
   * @param reason Makes the abort reason when the time runs out.
   * @throws {RangeError} When `ms` is not a positive number.
   */
  constructor(
    ms: number,
    parent: AbortSignal | undefined,
    reason: () => unknown,
  ) {
    if (!(ms > 0)) {
      throw new RangeError(
        `Timeout must be a positive number of ms, got ${ms}`,
      );
    }
    this.#parent = parent;
    if (parent?.aborted) {
      this.#controller.abort(parent.reason);
      return;
    }
    parent?.addEventListener("abort", this.#onParentAbort, { once: true });
    if (Number.isFinite(ms)) {
      this.#timer = setTimeout(() => this.#abort(reason()), ms);
    }
  }

  /** Aborts when the time runs out or the parent aborts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Stops the clock and stops listening to the parent. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#parent?.removeEventListener("abort", this.#onParentAbort);
  }

  #abort(reason: unknown): void {
    this.clear();
    this.#controller.abort(reason);
  }
}

/**
 * Races a promise against a signal, for work that has no signal of its own: on
 * abort, `promise`'s outcome is dropped, `onAbort` runs (to cancel the work or
 * dispose of what it yields) and the race rejects with the signal's reason.
 *
 * @example Giving up on work that never ends
 * ```ts
 * import { untilAborted } from "./_timers.ts";
 * import { assert, assertRejects } from "@std/assert";
 *
 * let cancelled = false;
 * const never = new Promise<number>(() => {});
 * await assertRejects(
 *   () => untilAborted(never, AbortSignal.abort(new Error("Stop")), () => cancelled = true),
 *   Error,
 *   "Stop",
 * );
 * assert(cancelled);
 * ```
 *
 * @param promise The work.
 * @param signal Stops waiting; `undefined` waits for `promise` alone.
 * @param onAbort Runs once, on abort.
 * @returns What `promise` settles with, when it settles before the abort.
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const abort = () => {
      promise.catch(() => {});
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", abort);
        reject(err);
      },
    );
  });
}
