/**
 * A headless Chromium for tests, driven over the DevTools protocol (CDP) with
 * Deno's built-in `WebSocket`.
 *
 * It runs Debian's `/usr/bin/chromium` with a fresh profile directory and
 * `--remote-debugging-port=0`, reads the DevTools address from its stderr, and
 * offers just what the interop tests need: open a page, evaluate JavaScript in
 * it (awaiting promises, returning JSON values), and take a screenshot.
 * {@linkcode Chromium.close} (or `await using`) always ends the browser by PID and
 * removes the profile, also when a test failed half-way.
 *
 * @module
 */

/** Where Debian's package installs the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
  "--disable-extensions",
  "--disable-dev-shm-usage",
  "--remote-debugging-port=0",
];

/** Options for {@linkcode Chromium.launch}. */
export interface LaunchOptions {
  /** The browser binary; {@linkcode CHROMIUM_PATH} by default. */
  executable?: string;
  /** How long to wait for the DevTools address, in ms (default 20,000). */
  startTimeout?: number;
  /** How long one protocol call may take, in ms (default 60,000). */
  callTimeout?: number;
  /** More command-line flags. */
  args?: string[];
}

/** Whether the browser binary exists, so a test can say why it cannot run. */
export function chromiumInstalled(executable = CHROMIUM_PATH): boolean {
  try {
    return Deno.statSync(executable).isFile;
  } catch {
    return false;
  }
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

type EventListener = (
  params: Record<string, unknown>,
  sessionId?: string,
) => void;

/** A DevTools protocol connection: numbered calls, replies and events. */
class Cdp {
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Set<{ method: string; fn: EventListener }>();
  #callTimeout: number;
  #closed: Promise<void>;

  private constructor(ws: WebSocket, callTimeout: number) {
    this.#ws = ws;
    this.#callTimeout = callTimeout;
    ws.onmessage = (e) => this.#dispatch(JSON.parse(e.data as string));
    this.#closed = new Promise((resolve) => {
      ws.onclose = () => {
        this.#failAll(new Error("DevTools connection closed"));
        resolve();
      };
    });
  }

  static async connect(url: string, callTimeout: number): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) =>
        reject(
          new Error(
            `cannot reach DevTools at ${url}: ${(e as ErrorEvent).message}`,
          ),
        );
    });
    ws.onerror = () => {};
    return new Cdp(ws, callTimeout);
  }

  call(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeout = this.#callTimeout,
  ): Promise<Record<string, unknown>> {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new Error(`DevTools connection closed before ${method}`),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out after ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Resolves with the params of the next `method` event (for one session). */
  once(
    method: string,
    sessionId: string,
    timeout = this.#callTimeout,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const entry = {
        method,
        fn: (params: Record<string, unknown>, sid?: string) => {
          if (sid !== sessionId) return;
          this.#listeners.delete(entry);
          clearTimeout(timer);
          resolve(params);
        },
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(entry);
        reject(new Error(`no ${method} event within ${timeout} ms`));
      }, timeout);
      this.#listeners.add(entry);
    });
  }

  async close(): Promise<void> {
    if (
      this.#ws.readyState === WebSocket.OPEN ||
      this.#ws.readyState === WebSocket.CONNECTING
    ) {
      this.#ws.close();
    }
    await this.#closed;
  }

  #dispatch(msg: {
    id?: number;
    result?: Record<string, unknown>;
    error?: { message: string; data?: string };
    method?: string;
    params?: Record<string, unknown>;
    sessionId?: string;
  }): void {
    if (msg.id !== undefined) {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) {
        p.reject(
          new Error(
            `DevTools error: ${msg.error.message}${
              msg.error.data ? ` (${msg.error.data})` : ""
            }`,
          ),
        );
      } else {
        p.resolve(msg.result ?? {});
      }
      return;
    }
    if (msg.method) {
      for (const l of [...this.#listeners]) {
        if (l.method === msg.method) l.fn(msg.params ?? {}, msg.sessionId);
      }
    }
  }

  #failAll(error: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(error);
    }
  }
}

/** One browser tab, attached through a flat DevTools session. */
export class Page {
  #cdp: Cdp;
  #sessionId: string;
  #targetId: string;

  /** @internal Use {@linkcode Chromium.newPage}. */
  constructor(cdp: Cdp, targetId: string, sessionId: string) {
    this.#cdp = cdp;
    this.#targetId = targetId;
    this.#sessionId = sessionId;
  }

  /** Loads `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const loaded = this.#cdp.once("Page.loadEventFired", this.#sessionId);
    const nav = await this.#cdp.call("Page.navigate", { url }, this.#sessionId);
    if (typeof nav.errorText === "string" && nav.errorText) {
      loaded.catch(() => {});
      throw new Error(`cannot load ${url}: ${nav.errorText}`);
    }
    await loaded;
  }

  /**
   * Evaluates `expression` in the page, awaits it if it is a promise, and returns
   * its value as JSON. A thrown exception is rethrown here with its description.
   */
  async evaluate<T>(expression: string, timeout?: number): Promise<T> {
    const r = await this.#cdp.call(
      "Runtime.evaluate",
      {
        expression,
        awaitPromise: true,
        returnByValue: true,
      },
      this.#sessionId,
      timeout,
    );
    const details = r.exceptionDetails as
      | { text?: string; exception?: { description?: string } }
      | undefined;
    if (details) {
      throw new Error(
        `page threw: ${
          details.exception?.description ?? details.text ?? "unknown"
        }`,
      );
    }
    return (r.result as { value: T }).value;
  }

  /** Takes a PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.#cdp.call(
      "Page.captureScreenshot",
      { format: "png" },
      this.#sessionId,
    );
    const bin = atob(r.data as string);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.#cdp.call("Target.closeTarget", { targetId: this.#targetId });
  }
}

/**
 * A running headless Chromium.
 *
 * @example
 * ```ts ignore
 * await using browser = await Chromium.launch();
 * const page = await browser.newPage("http://127.0.0.1:8000/");
 * const two = await page.evaluate<number>("1 + 1");
 * ```
 */
export class Chromium implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #profile: string;
  #cdp: Cdp | null = null;
  #stderrDone: Promise<void>;
  #stderrTail: string[];
  #closing: Promise<void> | null = null;

  private constructor(
    child: Deno.ChildProcess,
    profile: string,
    stderrDone: Promise<void>,
    stderrTail: string[],
  ) {
    this.#child = child;
    this.#profile = profile;
    this.#stderrDone = stderrDone;
    this.#stderrTail = stderrTail;
  }

  /** The browser's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The browser's profile directory (removed by {@linkcode Chromium.close}). */
  get profile(): string {
    return this.#profile;
  }

  /** The last lines the browser wrote to stderr (for failure messages). */
  get stderrTail(): string {
    return this.#stderrTail.join("\n");
  }

  /** Starts the browser and connects to its DevTools endpoint. */
  static async launch(options: LaunchOptions = {}): Promise<Chromium> {
    const executable = options.executable ?? CHROMIUM_PATH;
    const profile = await Deno.makeTempDir({ prefix: "wsx-chromium-" });
    const child = new Deno.Command(executable, {
      args: [
        ...FLAGS,
        ...options.args ?? [],
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const tail: string[] = [];
    let announce!: (url: string) => void;
    const devtools = new Promise<string>((resolve) => announce = resolve);
    const stderrDone = (async () => {
      let pending = "";
      for await (
        const text of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        pending += text;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
          if (m) announce(m[1]);
          tail.push(line);
          if (tail.length > 40) tail.shift();
        }
      }
    })().catch(() => {});
    const browser = new Chromium(child, profile, stderrDone, tail);
    try {
      const startTimeout = options.startTimeout ?? 20_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const url = await Promise.race([
        devtools,
        child.status.then((s) => {
          throw new Error(
            `chromium exited with code ${s.code} before DevTools was up`,
          );
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(`no DevTools address within ${startTimeout} ms`),
              ),
            startTimeout,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      browser.#cdp = await Cdp.connect(url, options.callTimeout ?? 60_000);
    } catch (e) {
      await browser.close();
      const err = e as Error;
      err.message += `\n--- chromium stderr ---\n${browser.stderrTail}`;
      throw err;
    }
    return browser;
  }

  /** Opens a new tab, loads `url` in it and waits for its load event. */
  async newPage(url: string): Promise<Page> {
    const cdp = this.#requireCdp();
    const { targetId } = await cdp.call("Target.createTarget", {
      url: "about:blank",
    }) as {
      targetId: string;
    };
    const { sessionId } = await cdp.call("Target.attachToTarget", {
      targetId,
      flatten: true,
    }) as { sessionId: string };
    await cdp.call("Page.enable", {}, sessionId);
    await cdp.call("Runtime.enable", {}, sessionId);
    const page = new Page(cdp, targetId, sessionId);
    await page.goto(url);
    return page;
  }

  /**
   * Ends the browser: asks it to close, kills it by PID if it has not exited
   * within two seconds, and removes its profile directory. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #requireCdp(): Cdp {
    if (!this.#cdp) throw new Error("browser is not connected");
    return this.#cdp;
  }

  async #shutdown(): Promise<void> {
    const cdp = this.#cdp;
    this.#cdp = null;
    if (cdp) {
      await cdp.call("Browser.close", {}, undefined, 2_000).catch(() => {});
      await cdp.close();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<boolean>((resolve) =>
        timer = setTimeout(() => resolve(false), 2_000)
      ),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#child.status;
    }
    await this.#stderrDone;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await Deno.remove(this.#profile, { recursive: true });
        break;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
