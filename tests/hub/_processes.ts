/**
 * Child processes for the multi-process and Redis tests: a `redis-server` on
 * 127.0.0.1 and a free port, and `examples/broadcast_server.ts`, each stopped
 * by its PID and awaited.
 *
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;

/** A child process whose stdout lines are kept and can be waited for. */
export class Child implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #reading: Promise<void>;

  constructor(cmd: string, args: string[]) {
    const child = this.child = new Deno.Command(cmd, {
      args,
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.status = child.status;
    this.#reading = (async () => {
      let rest = "";
      const text = child.stdout.pipeThrough(new TextDecoderStream());
      for await (const chunk of text) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Waits (at most `ms`) for a line matching `pattern`; returns its match. */
  async waitLine(
    pattern: RegExp,
    ms = 20_000,
    from = 0,
  ): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const m = this.lines[i].match(pattern);
        if (m !== null) return m;
      }
      if (Date.now() > end) {
        throw new Error(`No line ${pattern} in:\n${this.lines.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends a signal unless the process has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      Deno.kill(this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), 5_000);
    await this.status;
    clearTimeout(timer);
    await this.#reading;
  }
}

/** Whether a process with this PID exists (Linux). */
export function isRunning(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1 (free when asked: bound, read, released). */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** Starts `redis-server` on 127.0.0.1:`port`, without persistence. */
export async function startRedis(port: number): Promise<Child> {
  const redis = new Child("/usr/bin/redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
  ]);
  await redis.waitLine(/Ready to accept connections/);
  return redis;
}

/** The broadcast example as a process; resolves once it listens. */
export async function startBroadcast(
  args: string[],
): Promise<{ proc: Child; url: string; pids: number[] }> {
  const proc = new Child(Deno.execPath(), [
    "run",
    "-A",
    "--unstable-net",
    "examples/broadcast_server.ts",
    "--port=0",
    ...args,
  ]);
  const m = await proc.waitLine(/^listening (ws:\S+) (?:pid|workers) ([\d,]+)/);
  return { proc, url: m[1], pids: m[2].split(",").map(Number) };
}
