/**
 * Starting the servers and generators as separate processes, reading their JSON
 * lines, and ending them by PID.
 *
 * @module
 */

/** File descriptors each process may open: 10,000 connections need more than 1,024. */
const FD_LIMIT = 20_000;
const here = new URL(".", import.meta.url);

/** A running child process that prints JSON lines. */
export class Child {
  /** The process id (the Deno process itself: `sh` execs into it). */
  readonly pid: number;
  #process: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #pending = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null;

  constructor(process: Deno.ChildProcess, stdin: boolean) {
    this.#process = process;
    this.pid = process.pid;
    this.#lines = process.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stdin = stdin ? process.stdin.getWriter() : null;
  }

  /** The next JSON line the process prints; rejects after `timeoutMs`. */
  async nextJson<T>(timeoutMs: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`No answer from PID ${this.pid}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#nextLine(), timeout]) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  async #nextLine(): Promise<unknown> {
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

  /** Ends the process by its PID and waits for it. */
  async kill(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#process.status;
    await this.#stdin?.close().catch(() => {});
    await this.#lines.cancel().catch(() => {});
  }

  /** Waits for the process to exit on its own. */
  async exited(): Promise<Deno.CommandStatus> {
    return await this.#process.status;
  }
}

/**
 * Starts `deno run -A <file> <args>` from this directory, with a raised file
 * descriptor limit and `--expose-gc` (for the memory queries).
 */
export function spawnDeno(file: string, args: string[], stdin = false): Child {
  const script = `ulimit -n ${FD_LIMIT} 2>/dev/null; exec "$0" "$@"`;
  const process = new Deno.Command("sh", {
    args: [
      "-c",
      script,
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(file, here).pathname,
      ...args,
    ],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new Child(process, stdin);
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
