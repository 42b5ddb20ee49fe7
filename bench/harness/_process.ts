/**
 * The one way the harness runs processes. The parent side starts a Deno script
 * as a child process ({@linkcode startDeno}), waits for the JSON lines it prints
 * (its port first), sends it commands on stdin and stops it by PID; every wait is
 * bounded. The child side announces its port and answers memory queries
 * ({@linkcode announce}). Both read `/proc` by PID: resident set, CPU time.
 *
 * A script of another checkout of this repository (`--baseline-dir`) runs with
 * that checkout's `deno.json`, so that its imports resolve to its own sources:
 * see {@linkcode Checkout}.
 *
 * @module
 */

import { getHeapStatistics } from "node:v8";

/** File descriptors each child may open: 10,000 connections need more than 1,024. */
const FD_LIMIT = 20_000;
/** Clock ticks per second of `/proc` times (`getconf CLK_TCK` on Linux). */
const TICKS_PER_SECOND = 100;

// ---------------------------------------------------------------- checkouts

/** A checkout of this repository whose scripts a harness runs. */
export interface Checkout {
  /** Its root directory (where its `deno.json` is). */
  root: string;
  /** How tables name what it measures: `""` for this one, `" (baseline)"` else. */
  suffix: string;
}

const here = new URL("./", import.meta.url);

/** This checkout. */
export const OURS: Checkout = {
  root: new URL("../../", here).pathname.replace(/\/$/, ""),
  suffix: "",
};

/** A second checkout, measured beside this one (`--baseline-dir DIR`). */
export function baselineCheckout(dir: string): Checkout {
  const root = dir.replace(/\/+$/, "");
  try {
    Deno.statSync(`${root}/deno.json`);
  } catch {
    throw new TypeError(`No deno.json in the baseline directory ${root}`);
  }
  return { root, suffix: " (baseline)" };
}

/**
 * The path of a harness script (`name`, relative to `bench/harness/`) in
 * `checkout`: where this layout has it, or where checkouts from before the
 * `bench/harness/` split had it (`bench/` + name).
 *
 * @throws {Error} When the checkout has neither.
 */
export function scriptIn(checkout: Checkout, name: string): string {
  const candidates = [
    `${checkout.root}/bench/harness/${name}`,
    `${checkout.root}/bench/${name}`,
  ];
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Try the next layout.
    }
  }
  throw new Error(`No ${name} in ${checkout.root}/bench`);
}

// ---------------------------------------------------------------- parent side

/** How {@linkcode startDeno} runs a script. */
export interface StartOptions {
  /** Arguments after the script. */
  args?: string[];
  /** The checkout whose `deno.json` resolves the script's imports (default: this one). */
  checkout?: Checkout;
  /** Pipe stdin, for {@linkcode Child.send}. */
  stdin?: boolean;
  /** `"inherit"` lets the child print to our stdout (no {@linkcode Child.nextJson}). */
  stdout?: "piped" | "inherit";
  /** Run with `--v8-flags=--expose-gc` (default true): memory figures after a GC. */
  exposeGc?: boolean;
}

/** A running child process. */
export class Child {
  /** The process id (the Deno process itself: `sh` execs into it). */
  readonly pid: number;
  #process: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string> | null;
  #pending = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null;

  constructor(process: Deno.ChildProcess, stdin: boolean, stdout: boolean) {
    this.#process = process;
    this.pid = process.pid;
    this.#lines = stdout
      ? process.stdout.pipeThrough(new TextDecoderStream()).getReader()
      : null;
    this.#stdin = stdin ? process.stdin.getWriter() : null;
  }

  /** The next JSON line the process prints (other lines skipped); rejects after `timeoutMs`. */
  nextJson<T>(timeoutMs: number): Promise<T> {
    return within(
      this.#nextLine() as Promise<T>,
      timeoutMs,
      `No answer from PID ${this.pid}`,
    );
  }

  /** Waits for the `{"port": N}` line a server prints once it listens. */
  async port(timeoutMs = 30_000): Promise<number> {
    const { port } = await this.nextJson<{ port: number }>(timeoutMs);
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`PID ${this.pid} announced no port`);
    }
    return port;
  }

  async #nextLine(): Promise<unknown> {
    if (this.#lines === null) {
      throw new Error("The child's stdout is not piped");
    }
    for (;;) {
      const end = this.#pending.indexOf("\n");
      if (end >= 0) {
        const line = this.#pending.slice(0, end).trim();
        this.#pending = this.#pending.slice(end + 1);
        if (line.startsWith("{")) return JSON.parse(line);
        continue;
      }
      const { value, done } = await this.#lines.read();
      if (done) throw new Error(`PID ${this.pid} exited without an answer`);
      this.#pending += value;
    }
  }

  /** Sends one line on the process's stdin. */
  async send(line: string): Promise<void> {
    await this.#stdin?.write(new TextEncoder().encode(line + "\n"));
  }

  /** The resident set of the process, in bytes (`NaN` once it is gone). */
  rss(): number {
    return rssBytes(this.pid);
  }

  /** Ends the process by its PID (SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#process.status;
    await this.#stdin?.close().catch(() => {});
    await this.#lines?.cancel().catch(() => {});
  }

  /** Waits at most `timeoutMs` for the process to exit on its own; stops it after that. */
  async exited(timeoutMs: number): Promise<Deno.CommandStatus> {
    try {
      return await within(
        this.#process.status,
        timeoutMs,
        `PID ${this.pid} still running after ${timeoutMs} ms`,
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
  }
}

/**
 * Starts `deno run -A <script> <args>` as a child process, in the checkout's
 * root with its `deno.json`, with a raised file descriptor limit.
 *
 * @param script An absolute path or `file:` URL.
 */
export function startDeno(
  script: string | URL,
  options: StartOptions = {},
): Child {
  const checkout = options.checkout ?? OURS;
  const path = script instanceof URL ? script.pathname : script;
  const shell = `ulimit -n ${FD_LIMIT} 2>/dev/null; exec "$0" "$@"`;
  const piped = (options.stdout ?? "piped") === "piped";
  const process = new Deno.Command("sh", {
    args: [
      "-c",
      shell,
      Deno.execPath(),
      "run",
      "-A",
      `--config=${checkout.root}/deno.json`,
      ...(options.exposeGc ?? true ? ["--v8-flags=--expose-gc"] : []),
      path,
      ...(options.args ?? []),
    ],
    cwd: checkout.root,
    stdin: options.stdin ? "piped" : "null",
    stdout: piped ? "piped" : "inherit",
    stderr: "inherit",
  }).spawn();
  return new Child(process, options.stdin ?? false, piped);
}

// ---------------------------------------------------------------- child side

/**
 * Prints `{"port": N}` for the parent, then answers each `mem` line on stdin
 * with one JSON line: {@linkcode memory} plus what `extra` returns. Exits cleanly
 * on SIGTERM, so that `--cpu-prof` writes its profile.
 */
export function announce(
  port: number,
  extra: () => Record<string, unknown> = () => ({}),
): void {
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  console.log(JSON.stringify({ port }));
  answerMemoryQueries(extra).catch(() => {});
}

async function answerMemoryQueries(
  extra: () => Record<string, unknown>,
): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const text of lines) {
    pending += text;
    let end: number;
    while ((end = pending.indexOf("\n")) >= 0) {
      const command = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (command === "mem" || command === "mem idle") {
        const idle = command === "mem idle";
        console.log(JSON.stringify({ ...memory(idle), ...extra() }));
      }
    }
  }
}

/**
 * JS heap in use (objects and external buffers), V8 heap reserved, and the
 * resident set, in bytes, after a garbage collection when the process runs with
 * `--expose-gc`.
 *
 * @param idle Collect as V8's memory reducer does once a process has been idle
 * for a while (about 30 s, measured): the young generation, grown by a burst of
 * allocation, shrinks back. A plain `gc()` leaves it at its grown size (several
 * KiB per connection after 10,000 handshakes), though its pages hold nothing.
 */
export function memory(idle = false): {
  heap: number;
  external: number;
  heapTotal: number;
  malloced: number;
  rss: number;
} {
  const gc = (globalThis as { gc?: (options?: unknown) => void }).gc;
  if (idle) {
    gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  }
  gc?.();
  gc?.();
  const stats = getHeapStatistics();
  return {
    heap: stats.used_heap_size,
    external: stats.external_memory,
    heapTotal: stats.total_heap_size,
    malloced: stats.malloced_memory,
    rss: rssBytes("self"),
  };
}

// ---------------------------------------------------------------- /proc

/** The resident set size of a process, in bytes, or `NaN`. */
export function rssBytes(pid: number | "self"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  } catch {
    return NaN;
  }
}

/**
 * The CPU time a process has used so far (user + system, all threads), in ms, or
 * `NaN` when it cannot be read.
 *
 * @param pid The process, or `"self"`.
 */
export function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * CPU time the whole machine has spent so far, in ms: in processes (user, nice and
 * system time, which per-process figures add up to) and in interrupts (irq and
 * softirq time, where the kernel does much of loopback TCP and charges no process).
 */
export function machineMs(): { processes: number; interrupts: number } {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    return {
      processes: ((t[0] + t[1] + t[2]) * 1000) / TICKS_PER_SECOND,
      interrupts: ((t[5] + t[6]) * 1000) / TICKS_PER_SECOND,
    };
  } catch {
    return { processes: NaN, interrupts: NaN };
  }
}

// ---------------------------------------------------------------- waits

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a rejection with `message` after `ms`. */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
