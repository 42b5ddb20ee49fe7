/**
 * Memory per idle connection: `deno task bench:idle [--connections N] [--server
 * ours|accept|echo|deno|ws|node-ws|raw|both|all] [--chunk BYTES] [--exchange]
 * [--deflate] [--plain-gc] [--smoke] [--json] [--baseline-dir DIR]`.
 *
 * For each server, in its own process: our `serve()` (chunk size 4 KiB, the
 * default preset; every connection waiting in a read, as an idle one does), a
 * bare `accept()` loop, the echo example with its default flags (8 KiB chunks,
 * the zlib engine), Deno's built-in server (`Deno.serve` + `upgradeWebSocket`),
 * `ws` under Deno, `ws` under Node (`node --expose-gc`; the harness installs
 * `ws` with npm into a cache directory of its own under the OS temp directory
 * when it is missing there), and the floor: a raw `Deno.Conn` after a
 * hand-made handshake waiting in a 64-byte read (`--server all` runs them all). With `--deflate`
 * the client offers permessage-deflate and our servers and `ws` accept it. A client process opens N WebSocket connections over loopback (raw upgrade requests, so the
 * client's own costs stay out of the server's figures); the server reports its
 * resident set, JS heap and external (ArrayBuffer) memory after a garbage
 * collection that shrinks the young generation back, as V8's memory reducer
 * does by itself after about 30 s of idling (measured; `--plain-gc` skips
 * that, leaving the young generation as the handshakes' burst grew it),
 * before and after; the difference over N is the per-connection
 * cost. With `--exchange`, each connection echoes one short message before it
 * idles (so write buffers that exist once a connection has written count too).
 * A warm-up round first opens and closes a few connections so that code
 * compiled on first use is not counted. With `--baseline-dir`, each of our
 * servers also runs from that checkout of this repository (its own
 * `idle_memory.ts --serve`), right after ours, as a row "… (baseline)".
 *
 * @module
 */

import { accept, serve, type WebSocketConn } from "@wsx/websocket";
import { Flags } from "./_args.ts";
import { nodeWsServer } from "./_node_ws.ts";
import { HELLO } from "../../tests/_idle_transport.ts";
import {
  announce,
  baselineCheckout,
  type Checkout,
  type Child,
  OURS,
  scriptIn,
  sleep,
  startDeno,
} from "./_process.ts";

/**
 * The servers: ours through `serve()`, a bare `accept()` loop, and the echo
 * example as shipped; Deno's, `ws`, and the floor: a raw `Deno.Conn` waiting
 * in a 64-byte read after a hand-made handshake.
 */
type Kind = "ours" | "accept" | "echo" | "deno" | "ws" | "node-ws" | "raw";

const NAMES: Record<Kind, string> = {
  ours: "ours: serve()",
  accept: "ours: accept() loop",
  echo: "ours: examples/echo_server.ts",
  deno: "Deno.serve + upgradeWebSocket",
  ws: "ws 8.23.0 under Deno",
  "node-ws": "ws 8.23.0 under Node",
  raw: "floor: raw Deno.Conn, 64-byte read",
};

/** The memory figures a server reports. */
interface Memory {
  heap: number;
  external: number;
  /** V8 heap reserved (used or not), when the server reports it. */
  heapTotal?: number;
  rss: number;
  connections: number;
}

/** One server's result. */
export interface IdleResult {
  server: Kind;
  /** Set when the server ran from the baseline checkout. */
  baseline?: true;
  connections: number;
  before: Memory;
  after: Memory;
  /** Bytes per connection: resident set, JS heap, external buffers. */
  perConnection: {
    rss: number;
    heap: number;
    external: number;
    heapTotal: number;
  };
}

// ---------------------------------------------------------------- server side

/** Runs a server; answers `mem` on stdin with its memory and open connections. */
async function runServer(
  kind: string,
  chunkSize: number,
  deflate: boolean,
): Promise<void> {
  let open = 0;
  // Echo (with --exchange each client sends one message, then idles), counting
  // the connection as open meanwhile.
  const echo = async (conn: WebSocketConn): Promise<void> => {
    open++;
    try {
      for await (const msg of conn) {
        await conn.writeMessage(msg.opcode, msg.data);
      }
    } finally {
      open--;
    }
  };
  let port: number;
  if (kind === "ours") {
    const server = serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        chunkSize,
        ...(deflate ? { deflate: true } : {}),
        onListen() {},
        onError() {},
      },
      echo,
    );
    port = server.addr.port;
  } else if (kind === "accept") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = listener.addr.port;
    (async () => {
      for await (const tcp of listener) {
        accept(tcp, { chunkSize, ...(deflate ? { deflate: true } : {}) })
          .then(echo).catch(() => {});
      }
    })();
  } else if (kind === "echo") {
    port = await echoExample(() => open++, () => open--);
  } else if (kind === "ws") {
    port = await wsServer(deflate, () => open++, () => open--);
  } else if (kind === "raw") {
    port = rawServer(() => open++, () => open--);
  } else {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onopen = () => open++;
        socket.onmessage = (event) => socket.send(event.data);
        socket.onclose = () => open--;
        return response;
      },
    );
    port = server.addr.port;
  }
  announce(port, () => ({ connections: open }));
}

/** The echo example with its default flags, each connection counted. */
async function echoExample(
  opened: () => void,
  closed: () => void,
): Promise<number> {
  const example = await import("../../examples/echo_server.ts");
  const options = example.optionsOf(example.readFlags([]));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const tcp of listener) {
      opened();
      example.serve(tcp, options, () => {}).finally(closed);
    }
  })();
  return listener.addr.port;
}

async function wsServer(
  deflate: boolean,
  opened: () => void,
  closed: () => void,
): Promise<number> {
  const { WebSocketServer } = await import("npm:ws@8.23.0");
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: deflate,
  });
  await new Promise((resolve) => server.on("listening", resolve));
  server.on("connection", (socket) => {
    opened();
    socket.on(
      "message",
      (data, isBinary) => socket.send(data, { binary: isBinary }),
    );
    socket.on("close", closed);
    socket.on("error", () => socket.terminate());
  });
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

/** The client's key's accept value (RFC 6455 §1.3), answered by the raw floor. */
const RAW_ANSWER = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);

/** Reads a request head and answers 101; its buffers stay behind. */
async function rawHandshake(tcp: Deno.Conn): Promise<boolean> {
  let head = "";
  const buf = new Uint8Array(1024);
  while (!head.includes("\r\n\r\n")) {
    const n = await tcp.read(buf);
    if (n === null) return false;
    head += new TextDecoder().decode(buf.subarray(0, n));
  }
  await tcp.write(RAW_ANSWER);
  return true;
}

/**
 * The floor for any server on `Deno.Conn`: reads the request (up to its blank
 * line), answers 101, then waits in a 64-byte read, echoing a short text frame.
 */
function rawServer(opened: () => void, closed: () => void): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serveOne = async (tcp: Deno.Conn) => {
    if (!await rawHandshake(tcp)) return;
    opened();
    try {
      const small = new Uint8Array(64);
      for (;;) {
        const n = await tcp.read(small);
        if (n === null) return;
        // A masked text frame of up to 58 bytes, read whole: echo it unmasked.
        const len = small[1] & 0x7f;
        const out = new Uint8Array(2 + len);
        out[0] = small[0];
        out[1] = len;
        for (let i = 0; i < len; i++) {
          out[2 + i] = small[6 + i] ^ small[2 + i % 4];
        }
        await tcp.write(out);
      }
    } finally {
      closed();
    }
  };
  (async () => {
    for await (const tcp of listener) serveOne(tcp).catch(() => {});
  })();
  return listener.addr.port;
}

// ---------------------------------------------------------------- client side

const REQUEST = (port: number, deflate: boolean) =>
  new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      (deflate
        ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        : "") +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  );

/** The unmasked echo of `HELLO` a server sends back. */
const ECHO_BYTES = 7;

/**
 * Opens `n` upgraded connections, 200 at a time, and keeps them until told; with
 * `exchange`, each echoes one short message first.
 */
async function runClient(
  port: number,
  n: number,
  exchange: boolean,
  deflate: boolean,
): Promise<void> {
  const conns: Deno.TcpConn[] = [];
  const request = REQUEST(port, deflate);
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    const buf = new Uint8Array(1024);
    while (next < n) {
      next++;
      try {
        const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
        await tcp.write(request);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const r = await tcp.read(buf);
          if (r === null) throw new Error("closed during the handshake");
          head += new TextDecoder().decode(buf.subarray(0, r));
        }
        if (!head.startsWith("HTTP/1.1 101")) {
          throw new Error(head.split("\r\n")[0]);
        }
        if (exchange) {
          await tcp.write(HELLO);
          let got = 0;
          while (got < ECHO_BYTES) {
            const r = await tcp.read(buf);
            if (r === null) throw new Error("closed before the echo");
            got += r;
          }
        }
        conns.push(tcp);
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, n) }, worker));
  console.log(JSON.stringify({ open: conns.length, failed, firstError }));
  // Hold the connections until stdin closes (or the process is ended).
  for await (const _ of Deno.stdin.readable) {
    // Wait.
  }
  for (const c of conns) c.close();
}

// ---------------------------------------------------------------- orchestration

async function memoryOf(
  server: Child,
  expect: number,
  reduce: boolean,
): Promise<Memory> {
  // Handshakes finish on the server a moment after the client sees them.
  for (let i = 0; i < 100; i++) {
    await server.send(reduce ? "mem idle" : "mem");
    const m = await server.nextJson<Memory>(30_000);
    if (m.connections === expect || i === 99) return m;
    await sleep(100);
  }
  throw new Error("unreachable");
}

async function connectClients(
  port: number,
  n: number,
  exchange: boolean,
  deflate: boolean,
): Promise<Child> {
  const client = startDeno(import.meta.filename!, {
    args: [
      "--client",
      String(port),
      "--connections",
      String(n),
      ...(exchange ? ["--exchange"] : []),
      ...(deflate ? ["--deflate"] : []),
    ],
    stdin: true,
  });
  const { open, failed, firstError } = await client.nextJson<
    { open: number; failed: number; firstError?: string }
  >(120_000);
  if (open !== n) {
    await client.stop();
    throw new Error(
      `only ${open} of ${n} connections opened (${failed} failed: ${firstError})`,
    );
  }
  return client;
}

/** Measures one server, run from `checkout`, with `n` idle connections. */
export async function measure(
  kind: Kind,
  n: number,
  chunkSize = 4096,
  exchange = false,
  checkout: Checkout = OURS,
  deflate = false,
  plainGc = false,
): Promise<IdleResult> {
  const server = kind === "node-ws"
    ? await nodeWsServer(deflate)
    : startDeno(scriptIn(checkout, "idle_memory.ts"), {
      // `--deflate` only when asked: a baseline from before it refuses the flag.
      args: [
        "--serve",
        kind,
        "--chunk",
        String(chunkSize),
        ...(deflate ? ["--deflate"] : []),
      ],
      checkout,
      stdin: true,
    });
  try {
    const port = await server.port(30_000);
    const warmup = await connectClients(port, Math.min(50, n), true, deflate);
    await warmup.stop();
    const before = await memoryOf(server, 0, !plainGc);
    const client = await connectClients(port, n, exchange, deflate);
    try {
      await sleep(n > 1000 ? 1000 : 200);
      const after = await memoryOf(server, n, !plainGc);
      if (after.connections !== n) {
        throw new Error(
          `the server holds ${after.connections} of ${n} connections`,
        );
      }
      return {
        server: kind,
        ...(checkout === OURS ? {} : { baseline: true as const }),
        connections: n,
        before,
        after,
        perConnection: {
          rss: (after.rss - before.rss) / n,
          heap: (after.heap - before.heap) / n,
          external: (after.external - before.external) / n,
          heapTotal: ((after.heapTotal ?? NaN) - (before.heapTotal ?? NaN)) /
            n,
        },
      };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

if (import.meta.main) {
  const flags = new Flags();
  const smoke = flags.has("smoke");
  const connections = flags.number("connections", 10_000, 1);
  const n = smoke ? 50 : connections;
  const chunk = flags.number("chunk", 4096, 1);
  const exchange = flags.has("exchange");
  const deflate = flags.has("deflate");
  const plainGc = flags.has("plain-gc");
  // The child processes' roles.
  const serveKind = flags.string("serve");
  const clientPort = flags.string("client");
  if (serveKind !== undefined) {
    flags.done();
    await runServer(serveKind, chunk, deflate);
  } else if (clientPort !== undefined) {
    flags.done();
    await runClient(Number(clientPort), n, exchange, deflate);
  } else {
    const server = flags.string("server", "both");
    const json = flags.has("json");
    const baselineDir = flags.string("baseline-dir");
    flags.done();
    const baseline = baselineDir === undefined
      ? null
      : baselineCheckout(baselineDir);
    const kinds: Kind[] = server === "all"
      ? ["raw", "ours", "accept", "echo", "deno", "ws", "node-ws"]
      : server === "both"
      ? ["ours", "deno"]
      : [server as Kind];
    // Each of ours, then the same from the baseline checkout.
    const runs: [Kind, Checkout][] = kinds.flatMap((kind) =>
      baseline !== null &&
        (kind === "ours" || kind === "accept" || kind === "echo")
        ? [[kind, OURS], [kind, baseline]] as [Kind, Checkout][]
        : [[kind, OURS]] as [Kind, Checkout][]
    );
    const kib = (b: number) => (b / 1024).toFixed(1);
    const mib = (b: number) => (b / 1048576).toFixed(1);
    if (!json) {
      console.log(
        `idle memory: ${n} connections per server (ours: ${chunk}-byte ` +
          `chunks)${exchange ? ", one echo each first" : ""}${
            deflate ? ", permessage-deflate offered" : ""
          }`,
      );
      console.log(
        "| server | RSS / conn (KiB) | JS heap / conn (KiB) | V8 heap reserved / conn (KiB) | external / conn (KiB) | RSS before → after (MiB) |",
      );
      console.log("| --- | ---: | ---: | ---: | ---: | --- |");
    }
    for (const [kind, checkout] of runs) {
      const r = await measure(
        kind,
        n,
        chunk,
        exchange,
        checkout,
        deflate,
        plainGc,
      );
      if (json) {
        console.log(JSON.stringify(r));
        continue;
      }
      const name = NAMES[kind] + checkout.suffix;
      const p = r.perConnection;
      console.log(
        `| ${name} | ${kib(p.rss)} | ${kib(p.heap)} | ${kib(p.heapTotal)} | ` +
          `${kib(p.external)} | ` +
          `${mib(r.before.rss)} → ${mib(r.after.rss)} |`,
      );
    }
  }
}
