/**
 * Every example runs: each is started as its own process (`deno run`, and as a
 * `deno compile`d binary when the compile runtime is at hand), exchanges
 * messages with a client or server of ours over loopback, and exits cleanly.
 * Then the behaviours that need more than a smoke test: wscat's commands, the
 * file stream's verification, keep-alive finding a dead peer.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertMatch,
  assertNotEquals,
  assertStringIncludes,
} from "@std/assert";
import {
  acceptKey,
  CloseCode,
  CloseError,
  dial,
  type DialOptions,
  OpCode,
  serve,
  type WebSocketConn,
  type WebSocketServer,
} from "@wsx/websocket";
import { dec, enc } from "../_wire.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Each example's permissions, baked in when compiled. */
const EXAMPLES: Record<string, string[]> = {
  echo_server: ["--allow-net", "--allow-read"],
  echo_client: ["--allow-net", "--allow-read"],
  autobahn_client: ["--allow-net"],
  chat_server: ["--allow-net"],
  wscat: ["--allow-net", "--allow-read"],
  stream_file: ["--allow-net", "--allow-read"],
  keepalive: ["--allow-net"],
};

/** How to start an example: `deno run` or a compiled binary. */
type Launch = (name: string, args: string[], stdin?: boolean) => Proc;

const viaDenoRun: Launch = (name, args, stdin) =>
  new Proc(Deno.execPath(), [
    "run",
    ...EXAMPLES[name],
    `examples/${name}.ts`,
    ...args,
  ], stdin);

/** A child process whose output is collected as it comes. */
class Proc implements AsyncDisposable {
  out = "";
  err = "";
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<unknown>;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #exit: Deno.CommandStatus | null = null;

  constructor(cmd: string, args: string[], stdin = false) {
    this.#child = new Deno.Command(cmd, {
      args,
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin) this.#writer = this.#child.stdin.getWriter();
    const collect = async (
      stream: ReadableStream<Uint8Array>,
      add: (s: string) => void,
    ) => {
      for await (const s of stream.pipeThrough(new TextDecoderStream())) add(s);
    };
    this.#reading = Promise.all([
      collect(this.#child.stdout, (s) => this.out += s),
      collect(this.#child.stderr, (s) => this.err += s),
    ]);
    this.#child.status.then((s) => this.#exit = s);
  }

  /** Waits (at most `ms`) until stdout matches `re`. */
  async waitFor(re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.out.match(re);
      if (m) return m;
      if (this.#exit !== null || Date.now() > deadline) {
        throw new Error(
          `No ${re} in the output (exit ${this.#exit?.code}):\n${this.out}\n--- stderr\n${this.err}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits (at most `ms`) until stderr has a line holding `text`. */
  async waitForErr(text: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.err.includes(text)) {
      if (this.#exit !== null || Date.now() > deadline) {
        throw new Error(`No ${JSON.stringify(text)} in stderr:\n${this.err}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The port of the first `ws://` or `http://` address printed. */
  async port(): Promise<number> {
    const [, port] = await this.waitFor(/(?:ws|http):\/\/127\.0\.0\.1:(\d+)/);
    return Number(port);
  }

  async write(text: string): Promise<void> {
    await this.#writer!.write(enc(text));
  }

  async endInput(): Promise<void> {
    await this.#writer?.close();
    this.#writer = null;
  }

  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** The exit code, waiting at most `ms` (then the process is killed). */
  async code(ms = 15_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
    });
    const status = await Promise.race([this.#child.status, timeout]);
    clearTimeout(timer);
    if (status === null) {
      throw new Error(
        `Still running after ${ms} ms:\n${this.out}\n--- stderr\n${this.err}`,
      );
    }
    await this.#reading;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer?.close().catch(() => {});
    if (this.#exit === null) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // It has just exited.
      }
    }
    await this.#child.status;
    await this.#reading;
  }
}

/** A server of ours on a free port; `onConn` runs per connection. */
function ourServer(
  onConn: (conn: WebSocketConn, target: string) => Promise<void>,
  options: { onClose?: (code: number, reason: string) => void } = {},
): WebSocketServer {
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError() {},
    ...options,
  }, (conn, request) => onConn(conn, request.target));
}

/**
 * Dials with an idle timeout, so that a read waiting on an example that went
 * silent fails instead of hanging the test.
 */
function connect(
  url: string,
  options: DialOptions = {},
): Promise<WebSocketConn> {
  return dial(url, { timeout: 10_000, idleTimeout: 10_000, ...options });
}

async function echo(conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
}

async function readText(conn: WebSocketConn): Promise<string> {
  const msg = await conn.readMessage();
  assertEquals(msg.opcode, OpCode.Text);
  return dec(msg.data);
}

// ------------------------------------------------------------------ smoke tests

/** One message each way with every example, then a clean exit. */
const SMOKE: Record<string, (launch: Launch) => Promise<void>> = {
  async echo_server(launch) {
    await using server = launch("echo_server", ["--port", "0", "--quiet"]);
    const conn = await connect(`ws://127.0.0.1:${await server.port()}`);
    await conn.writeMessage(OpCode.Text, "smoke");
    assertEquals(await readText(conn), "smoke");
    await conn.close();
    server.signal("SIGTERM");
    assertEquals(await server.code(), 0);
    assertStringIncludes(server.out, "Echo server stopped");
  },

  async echo_client(launch) {
    await using server = ourServer(echo);
    await using client = launch("echo_client", [
      `ws://127.0.0.1:${server.addr.port}`,
    ]);
    assertEquals(await client.code(), 0, client.err);
    assertStringIncludes(client.out, 'text: sent 11, got "Hello, echo"');
    assertStringIncludes(client.out, "large binary: sent 100000, got 100000");
    assertStringIncludes(client.out, "one message, three fragments");
  },

  async autobahn_client(launch) {
    // The fuzzing server's protocol, with two cases of one message each.
    const echoed: string[] = [];
    const paths: string[] = [];
    await using server = ourServer(async (conn, target) => {
      const path = new URL(target, "http://x").pathname;
      paths.push(path);
      if (path === "/getCaseCount") await conn.writeMessage(OpCode.Text, "2");
      if (path === "/runCase") {
        await conn.writeMessage(OpCode.Text, `case ${target}`);
        echoed.push(await readText(conn));
      }
      await conn.close();
    });
    await using client = launch("autobahn_client", [
      `ws://127.0.0.1:${server.addr.port}`,
      "smoke",
      "--no-deflate",
    ]);
    assertEquals(await client.code(), 0, client.err);
    assertEquals(paths, [
      "/getCaseCount",
      "/runCase",
      "/runCase",
      "/updateReports",
    ]);
    assertEquals(echoed, [
      "case /runCase?case=1&agent=smoke",
      "case /runCase?case=2&agent=smoke",
    ]);
    assertStringIncludes(client.out, "Reports updated");
  },

  async chat_server(launch) {
    await using server = launch("chat_server", ["--port", "0"]);
    const port = await server.port();
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(page.status, 200);
    assertStringIncludes(await page.text(), "<title>wsx chat</title>");
    const missing = await fetch(`http://127.0.0.1:${port}/nope`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();

    const ann = await connect(`ws://127.0.0.1:${port}/ws?name=ann`);
    assertEquals(JSON.parse(await readText(ann)), {
      system: "ann joined (1 here)",
    });
    const bob = await connect(`ws://127.0.0.1:${port}/ws?name=bob`);
    assertEquals(JSON.parse(await readText(bob)), {
      system: "bob joined (2 here)",
    });
    assertEquals(JSON.parse(await readText(ann)).system, "bob joined (2 here)");
    await ann.writeMessage(OpCode.Text, JSON.stringify({ text: " hi bob " }));
    for (const conn of [bob, ann]) {
      const said = JSON.parse(await readText(conn));
      assertEquals([said.name, said.text], ["ann", "hi bob"]);
      assertEquals(typeof said.at, "number");
    }
    // Shutting down closes every connection with 1001.
    server.signal("SIGTERM");
    for (const conn of [ann, bob]) {
      const err = await conn.readMessage().catch((e) => e);
      assert(err instanceof CloseError, String(err));
      assertEquals(err.code, CloseCode.GoingAway);
    }
    assertEquals(await server.code(), 0, server.err);
    assertStringIncludes(server.out, "Chat server stopped");
  },

  async wscat(launch) {
    const closes: [number, string][] = [];
    await using server = ourServer(async (conn) => {
      await conn.writeMessage(OpCode.Text, "welcome");
      await echo(conn);
    }, { onClose: (code, reason) => closes.push([code, reason]) });
    await using cat = launch("wscat", [
      `ws://127.0.0.1:${server.addr.port}/`,
    ], true);
    await cat.waitFor(/< welcome/);
    await cat.write("hello there\n");
    await cat.waitFor(/< hello there/);
    await cat.endInput();
    assertEquals(await cat.code(), 0, cat.err);
    assertStringIncludes(cat.out, "* closed 1000");
    assertEquals(closes, [[1000, ""]]);
  },

  async stream_file(launch) {
    await using receiver = launch("stream_file", ["receive", "--port", "0"]);
    const port = await receiver.port();
    const file = await Deno.makeTempFile({ suffix: ".bin" });
    try {
      const bytes = new Uint8Array(100_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) >>> 3;
      await Deno.writeFile(file, bytes);
      const sha = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      const hex = Array.from(sha, (b) => b.toString(16).padStart(2, "0"))
        .join("");
      await using sender = launch("stream_file", [
        "send",
        file,
        "--url",
        `ws://127.0.0.1:${port}`,
        "--chunk",
        "30000",
      ]);
      assertEquals(await sender.code(), 0, sender.err);
      assertStringIncludes(
        sender.out,
        `Sent 100000 bytes in 4 fragments of up to 30000 bytes`,
      );
      assertStringIncludes(sender.out, `receiver verified: 100000 bytes`);
      assertStringIncludes(sender.out, hex);
      await receiver.waitFor(
        new RegExp(`Received 100000 bytes in 4 fragments, sha256 ${hex}`),
      );
    } finally {
      await Deno.remove(file);
    }
    receiver.signal("SIGTERM");
    assertEquals(await receiver.code(), 0, receiver.err);
  },

  async keepalive(launch) {
    await using server = launch("keepalive", [
      "server",
      "--port",
      "0",
      "--interval",
      "100",
    ]);
    let pinged!: () => void;
    const ping = new Promise<void>((resolve) => pinged = resolve);
    const conn = await connect(`ws://127.0.0.1:${await server.port()}`);
    conn.onPing = (payload) => {
      pinged();
      return conn.pong(payload);
    };
    await conn.writeMessage(OpCode.Text, "still here");
    assertEquals(await readText(conn), "still here");
    const reading = conn.readMessage().catch((e) => e);
    await ping;
    await conn.close();
    assert(await reading instanceof CloseError);
    await server.waitFor(/client #1 closed/);
    server.signal("SIGTERM");
    assertEquals(await server.code(), 0, server.err);
    assertStringIncludes(server.out, "Keep-alive server stopped");
  },
};

for (const [name, smoke] of Object.entries(SMOKE)) {
  Deno.test(`example ${name} runs and exits cleanly`, () => smoke(viaDenoRun));
}

// ------------------------------------------------------------------ deno compile

/**
 * `deno compile` needs the runtime it embeds (denort), which Deno downloads on
 * first use unless `DENORT_BIN` names a local copy.
 */
async function denortAvailable(): Promise<boolean> {
  if (Deno.env.get("DENORT_BIN")) return true;
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const { denoDir } = JSON.parse(dec(stdout)) as { denoDir: string };
  const dir = `${denoDir}/dl/release/v${Deno.version.deno}`;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith("denort-")) return true;
    }
  } catch {
    // No download directory.
  }
  return false;
}

const canCompile = await denortAvailable();

Deno.test({
  name: "every example compiles with deno compile and its binary runs",
  ignore: !canCompile,
  // Without network access, the runtime deno compile embeds cannot be fetched:
  // set DENORT_BIN to a local denort to run this test.
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wsx-examples-" });
    try {
      const queue = Object.keys(EXAMPLES);
      const compileNext = async (): Promise<void> => {
        for (let name = queue.shift(); name; name = queue.shift()) {
          const { code, stderr } = await new Deno.Command(Deno.execPath(), {
            args: [
              "compile",
              ...EXAMPLES[name],
              "--output",
              `${dir}/${name}`,
              `examples/${name}.ts`,
            ],
            cwd: root,
            stdout: "null",
            stderr: "piped",
            signal: AbortSignal.timeout(60_000),
          }).output();
          assertEquals(code, 0, `${name}: ${dec(stderr)}`);
        }
      };
      await Promise.all([compileNext(), compileNext()]);
      const binary: Launch = (name, args, stdin) =>
        new Proc(`${dir}/${name}`, args, stdin);
      for (const smoke of Object.values(SMOKE)) await smoke(binary);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "deno compile resolves and type-checks every example up to the runtime download",
  ignore: canCompile,
  // Where denort cannot be fetched, compile still proves the graph: module
  // resolution and type checking run before the download, and fail first.
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wsx-examples-" });
    try {
      for (const name of Object.keys(EXAMPLES)) {
        const { stderr } = await new Deno.Command(Deno.execPath(), {
          args: [
            "compile",
            ...EXAMPLES[name],
            "--output",
            `${dir}/${name}`,
            `examples/${name}.ts`,
          ],
          cwd: root,
          env: { NO_COLOR: "1" },
          stdout: "null",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        }).output();
        const log = dec(stderr);
        assertStringIncludes(log, `Compile examples/${name}.ts`, log);
        assert(!/\[ERROR\]|Module not found|error: Type/.test(log), log);
        assertMatch(log, /denort|dl\.deno\.land/, log);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ------------------------------------------------------------------ behaviours

Deno.test("echo server: --chunk-size sets the chunk, large messages still echo, a bad size is refused", async () => {
  {
    await using server = viaDenoRun("echo_server", [
      "--port",
      "0",
      "--quiet",
      "--chunk-size",
      "64",
    ]);
    await server.waitFor(/64-byte chunks/);
    const conn = await connect(`ws://127.0.0.1:${await server.port()}`);
    const big = new Uint8Array(100_000).map((_, i) => i * 7);
    await conn.writeMessage(OpCode.Binary, big);
    assertEquals((await conn.readMessage()).data, big);
    await conn.close();
    server.signal("SIGTERM");
    assertEquals(await server.code(), 0);
  }
  {
    await using server = viaDenoRun("echo_server", ["--port", "0"]);
    await server.waitFor(/8192-byte chunks/);
    server.signal("SIGTERM");
    assertEquals(await server.code(), 0);
  }
  await using bad = viaDenoRun("echo_server", ["--chunk-size", "12"]);
  assertNotEquals(await bad.code(), 0);
  assertStringIncludes(
    bad.err,
    "--chunk-size must be an integer of at least 64",
  );
});

Deno.test("echo server --debug logs each frame and message through the hooks", async () => {
  await using server = viaDenoRun("echo_server", ["--port", "0", "--debug"]);
  const port = await server.port();
  const conn = await connect(`ws://127.0.0.1:${port}`);
  await conn.writeMessage(OpCode.Text, "hello");
  assertEquals(await readText(conn), "hello");
  await conn.writeMessage(OpCode.Binary, new Uint8Array([0xff, 0, 1]));
  await conn.readMessage();
  await conn.ping(enc("hb"));
  await conn.close(CloseCode.NormalClosure, "done");
  const zipped = await connect(`ws://127.0.0.1:${port}`, { deflate: true });
  const long = "compress me ".repeat(40);
  await zipped.writeMessage(OpCode.Text, long);
  assertEquals(await readText(zipped), long);
  await zipped.close();
  for (
    const line of [
      `<- frame text fin=1 rsv=000 len=5 "hello"`,
      `<- message text len=5`,
      `-> frame text fin=1 rsv=000 len=5 "hello"`,
      `-> message text len=5`,
      `<- frame binary fin=1 rsv=000 len=3 ff 00 01`,
      `<- frame ping fin=1 rsv=000 len=2 "hb"`,
      `-> frame pong fin=1 rsv=000 len=2 "hb"`,
      `<- frame close fin=1 rsv=000 len=6`,
      `closed 1000 "done"`,
      `<- message text len=${long.length}`,
    ]
  ) {
    await server.waitForErr(line);
  }
  // Compressed frames show RSV1 and their wire length; the message its own.
  const [, wire] = server.err.match(/<- frame text fin=1 rsv=100 len=(\d+) /)!;
  assertLess(Number(wire), long.length);
  server.signal("SIGTERM");
  assertEquals(await server.code(), 0);
});

Deno.test("wscat pings, prints pongs and binary, and closes with a code", async () => {
  const closes: [number, string][] = [];
  await using server = ourServer(async (conn) => {
    await conn.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 0xfe]));
    await echo(conn);
  }, { onClose: (code, reason) => closes.push([code, reason]) });
  await using cat = launch(["--protocol", "chat"]);
  await cat.waitFor(/< \[binary 3 bytes\] 01 02 fe/);
  await cat.write("/ping are you there\n");
  await cat.waitFor(/\* pong are you there/);
  await cat.write("/close 999\n"); // not a code that may be sent
  await cat.waitFor(/Invalid close code 999/);
  await cat.write("/close 4000 bye now\n");
  assertEquals(await cat.code(), 0, cat.err);
  assertEquals(closes, [[4000, "bye now"]]);
  assertStringIncludes(cat.out, "* closed 4000");

  function launch(args: string[]): Proc {
    return viaDenoRun("wscat", [
      `ws://127.0.0.1:${server.addr.port}/`,
      ...args,
    ], true);
  }
});

Deno.test("wscat ends when the server closes, with a non-zero code when it fails", async () => {
  await using server = ourServer(async (conn, target) => {
    if (target === "/bye") await conn.close(4001, "go away");
    else conn.abort();
  });
  await using bye = viaDenoRun("wscat", [
    `ws://127.0.0.1:${server.addr.port}/bye`,
  ], true);
  assertEquals(await bye.code(), 0, bye.err);
  assertStringIncludes(bye.out, "* closed 4001 go away");
  await using dropped = viaDenoRun("wscat", [
    `ws://127.0.0.1:${server.addr.port}/drop`,
  ], true);
  assertEquals(await dropped.code(), 1);
  assertStringIncludes(dropped.out, "* failed (1006)");
});

Deno.test("stream_file's receiver tells a file that does not match its trailer", async () => {
  await using receiver = viaDenoRun("stream_file", [
    "receive",
    "--port",
    "0",
  ]);
  const conn = await connect(`ws://127.0.0.1:${await receiver.port()}`, {
    chunkSize: 1024,
  });
  const pieces = [new Uint8Array(3000).fill(1), new Uint8Array(500).fill(2)];
  await conn.streamMessage(OpCode.Binary, ReadableStream.from(pieces), 1000);
  await conn.writeMessage(
    OpCode.Text,
    JSON.stringify({ size: 3500, sha256: "00".repeat(32) }),
  );
  const verdict = JSON.parse(await readText(conn));
  assertEquals(verdict.ok, false);
  assertEquals(verdict.size, 3500);
  assertEquals(verdict.fragments, 4);
  assertMatch(verdict.sha256, /^[0-9a-f]{64}$/);
  await conn.close();
  await receiver.waitFor(/MISMATCH/);
  receiver.signal("SIGTERM");
  assertEquals(await receiver.code(), 0);
});

/** Sends a client handshake on a raw socket and reads the 101 response. */
async function rawHandshake(tcp: Deno.Conn, target = "/"): Promise<void> {
  const key = btoa("0123456789abcdef");
  await tcp.write(
    enc(
      `GET ${target} HTTP/1.1\r\n` +
        "Host: 127.0.0.1\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  const head = await readUntil(tcp, "\r\n\r\n");
  assertMatch(head, /^HTTP\/1\.1 101 /);
  assertStringIncludes(head, await acceptKey(key));
}

/** Reads from `tcp` until `marker` was seen (at most 4 KiB). */
async function readUntil(tcp: Deno.Conn, marker: string): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes(marker)) {
    const n = await tcp.read(buf);
    if (n === null || text.length > 4096) throw new Error(`No ${marker}`);
    text += dec(buf.subarray(0, n));
  }
  return text;
}

/** Reads until the peer closes; returns every byte received and the time taken. */
async function readToEnd(
  tcp: Deno.Conn,
): Promise<{ bytes: number[]; ms: number }> {
  const started = performance.now();
  const bytes: number[] = [];
  const buf = new Uint8Array(1024);
  for (let n = await tcp.read(buf); n !== null; n = await tcp.read(buf)) {
    bytes.push(...buf.subarray(0, n));
    if (bytes.length > 65536) throw new Error("Too much data");
  }
  return { bytes, ms: performance.now() - started };
}

const INTERVAL = 200;

Deno.test("keepalive server drops a peer that completed the handshake and then never answers", async () => {
  await using server = viaDenoRun("keepalive", [
    "server",
    "--port",
    "0",
    "--interval",
    String(INTERVAL),
  ]);
  const tcp = await Deno.connect({
    hostname: "127.0.0.1",
    port: await server.port(),
  });
  try {
    await rawHandshake(tcp);
    const { bytes, ms } = await readToEnd(tcp);
    // One unanswered ping (0x89: FIN | ping, unmasked, empty), then the drop.
    assertEquals(bytes, [0x89, 0x00]);
    // Dropped at the second interval; the bound only catches a missed deadline.
    assertGreater(ms, INTERVAL);
    assertLess(ms, 10 * INTERVAL);
  } finally {
    tcp.close();
  }
  await server.waitFor(/client #1 is dead \(No pong within 200 ms/);
  server.signal("SIGTERM");
  assertEquals(await server.code(), 0);
});

Deno.test("keepalive client gives up on a server that never answers its pings", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using client = viaDenoRun("keepalive", [
    "client",
    "--url",
    `ws://127.0.0.1:${listener.addr.port}`,
    "--interval",
    String(INTERVAL),
  ]);
  const tcp = await listener.accept();
  try {
    const request = await readUntil(tcp, "\r\n\r\n");
    const key = request.match(/sec-websocket-key: (\S+)/i)![1];
    await tcp.write(
      enc(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(
            key,
          )}\r\n\r\n`,
      ),
    );
    const { bytes, ms } = await readToEnd(tcp);
    // One masked, empty ping (0x89, 0x80 and a 4-byte mask), then the drop.
    assertEquals(bytes.length, 6);
    assertEquals(bytes.slice(0, 2), [0x89, 0x80]);
    assertLess(ms, 10 * INTERVAL);
  } finally {
    tcp.close();
  }
  assertEquals(await client.code(), 1);
  assertStringIncludes(client.out, "The server is dead (No pong within 200 ms");
});

Deno.test("keepalive client that plays dead is dropped by the keepalive server", async () => {
  await using server = viaDenoRun("keepalive", [
    "server",
    "--port",
    "0",
    "--interval",
    String(INTERVAL),
  ]);
  const port = await server.port();
  await using client = viaDenoRun("keepalive", [
    "client",
    "--url",
    `ws://127.0.0.1:${port}`,
    "--interval",
    String(INTERVAL),
    "--answer",
    "2",
  ]);
  assertEquals(await client.code(), 1);
  assertStringIncludes(client.out, "ping 2 answered; now playing dead");
  assert(!client.out.includes("ping 3"), client.out);
  await server.waitFor(/client #1 is dead/);
  server.signal("SIGTERM");
  assertEquals(await server.code(), 0);
});

Deno.test("chat server drops a client that stops reading, and the room goes on", async () => {
  await using server = viaDenoRun("chat_server", ["--port", "0"]);
  const port = await server.port();
  const lazy = await Deno.connect({ hostname: "127.0.0.1", port });
  const chatty = await connect(`ws://127.0.0.1:${port}/ws?name=chatty`);
  try {
    await rawHandshake(lazy, "/ws?name=lazy");
    // The lazy client reads nothing from now on, until it is dropped.
    const text = JSON.stringify({ text: "x".repeat(500) });
    let dropped = false;
    let sent = 0;
    const deadline = Date.now() + 20_000;
    const reading = (async () => {
      for (let i = 0; i < 200_000; i++) {
        const msg = JSON.parse(await readText(chatty));
        if (msg.system === "lazy left") return;
      }
      throw new Error("No notice that lazy left");
    })();
    reading.then(() => dropped = true, () => {});
    // Enough to fill the socket buffers and the 1 MiB write buffer behind them.
    while (!dropped && sent < 100_000 && Date.now() < deadline) {
      await chatty.writeMessage(OpCode.Text, text);
      if (++sent % 100 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    assert(dropped, `lazy still there after ${sent} messages`);
    // The others still talk.
    await chatty.writeMessage(
      OpCode.Text,
      JSON.stringify({ text: "still on" }),
    );
    let last = "";
    for (let i = 0; i < 200_000 && last !== "still on"; i++) {
      last = JSON.parse(await readText(chatty)).text;
    }
    assertEquals(last, "still on");
  } finally {
    lazy.close();
    await chatty.close();
  }
  server.signal("SIGTERM");
  assertEquals(await server.code(), 0);
});
