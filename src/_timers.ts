/**
 * One way to time things: bounded waits and sleeps that clear their timers.
 *
 * @module
 */

/** Waits for `promise` at most `ms`; tells whether it settled in time. */
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

/** Sleeps `ms`, waking early when `signal` aborts or `closed` settles. */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  closed?: Promise<unknown>,
): Promise<void> {
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
