/**
 * Starting the testee as a subprocess on a free loopback port, and stopping it
 * by its own handle.
 *
 * @module
 */

import { withTimeout } from "./_handshake.ts";
import { sleep } from "./_peer.ts";

/** A spawned testee. */
export interface Testee {
  /** The child's process id. */
  pid: number;
  /** Resolves when the child exits. */
  status: Promise<Deno.CommandStatus>;
  /** Ends the child (SIGTERM, then SIGKILL after 3 s) and waits for it. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Spawns `argv`, with its output inherited or discarded. */
export function spawn(argv: string[], quiet: boolean): Testee {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: quiet ? "null" : "inherit",
    stderr: quiet ? "null" : "inherit",
  }).spawn();
  const status = child.status;
  let stopped = false;
  return {
    pid: child.pid,
    status,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      if (await withTimeout(status, 3000) === undefined) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await status;
      }
    },
  };
}

/** Waits until something accepts TCP connections on `port`. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  testee?: Testee,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  testee?.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(
    exited
      ? "the testee exited before listening"
      : `nothing listens on port ${port}`,
  );
}

/**
 * Starts a server from a command line whose `{port}` is replaced by a free port.
 *
 * @returns the testee and its URL.
 */
export async function startServer(
  command: string[],
  quiet: boolean,
  timeoutMs = 30_000,
): Promise<{ testee: Testee; url: URL }> {
  const port = freePort();
  const testee = spawn(
    command.map((a) => a.replaceAll("{port}", String(port))),
    quiet,
  );
  try {
    await waitForPort(port, timeoutMs, testee);
  } catch (e) {
    await testee.stop();
    throw e;
  }
  return { testee, url: new URL(`ws://127.0.0.1:${port}/`) };
}
