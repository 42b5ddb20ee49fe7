/**
 * A broadcast ("chat room") server: every text or binary message a client sends
 * at `/` is sent to every connected client, the sender included, unchanged and
 * with the same type. Nothing else is sent. This is the contract fan-out
 * benchmarks drive.
 *
 * ```sh
 * deno run -A examples/broadcast_server.ts [--hostname 127.0.0.1] [--port 9002]
 *   [--deflate] [--workers N] [--redis redis://127.0.0.1:6379]
 * ```
 *
 * - `--deflate` accepts permessage-deflate, declaring `server_no_context_takeover`
 *   so that every compressed peer gets the same compressed frame.
 * - `--workers N` (Linux) starts N server processes on one port (`SO_REUSEPORT`,
 *   which needs `--unstable-net`: the supervisor passes it to the workers). The
 *   supervisor restarts a worker that dies (at most 10 times a minute) and stops
 *   every worker by PID on SIGINT or SIGTERM. Without `--redis` the workers
 *   share the room through a relay the supervisor runs on 127.0.0.1.
 * - `--redis URL` shares the room through Redis pub/sub: several machines (or
 *   several supervisors) form one room. Messages published while Redis is down
 *   are lost.
 *
 * It prints `listening ws://HOST:PORT/ pid PID` once ready (with `--workers`,
 * `listening ws://HOST:PORT/ workers PID,PID…`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { serve, type WebSocketConn } from "@wsx/websocket";
import { zlibEngine } from "@wsx/websocket/deflate";
import { type Broker, Hub, RelayBroker, serveRelay } from "@wsx/websocket/hub";

const ROOM = "room";
const MAX_RESTARTS_PER_MINUTE = 10;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    hostname: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "9002" },
    deflate: { type: "boolean", default: false },
    workers: { type: "string", default: "1" },
    redis: { type: "string" },
    // Set by the supervisor for its workers.
    worker: { type: "boolean", default: false },
    relay: { type: "string" },
    "log-connections": { type: "boolean", default: false },
  },
});
const port = Number(values.port);
const workers = Number(values.workers);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid port: ${values.port}`);
  Deno.exit(2);
}
if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
  console.error(`Invalid number of workers: ${values.workers}`);
  Deno.exit(2);
}

async function brokerOf(): Promise<Broker | undefined> {
  if (values.redis !== undefined) {
    const { connectRedisBroker } = await import("@wsx/websocket/redis");
    return await connectRedisBroker(values.redis);
  }
  if (values.relay !== undefined) return new RelayBroker(values.relay);
  return undefined;
}

/** One server process: the room is a hub topic. */
async function runServer(): Promise<void> {
  const hub = new Hub({ broker: await brokerOf() });
  const server = serve({
    hostname: values.hostname,
    port,
    reusePort: values.worker,
    deflate: values.deflate
      ? { engine: zlibEngine(), serverNoContextTakeover: true }
      : false,
    onListen(addr) {
      console.log(
        `listening ws://${addr.hostname}:${addr.port}/ pid ${Deno.pid}`,
      );
    },
  }, async (conn: WebSocketConn, request) => {
    if (request.target.split("?")[0] !== "/") {
      await conn.close(1008, "Unknown path");
      return;
    }
    hub.subscribe(conn, ROOM);
    if (values["log-connections"]) console.log(`connection pid ${Deno.pid}`);
    for await (const msg of conn) {
      hub.publish(ROOM, msg.data, { opcode: msg.opcode });
    }
  });
  const stop = async () => {
    await server.shutdown();
    await hub.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

/** Starts `workers` server processes on one port and keeps them running. */
async function supervise(): Promise<void> {
  let shared = port;
  if (shared === 0) {
    const probe = Deno.listen({ hostname: values.hostname, port: 0 });
    shared = (probe.addr as Deno.NetAddr).port;
    probe.close();
  }
  const relay = values.redis === undefined ? serveRelay() : null;
  const args = [
    "run",
    "-A",
    "--unstable-net",
    new URL(import.meta.url).pathname,
    "--worker",
    `--hostname=${values.hostname}`,
    `--port=${shared}`,
    ...(values.deflate ? ["--deflate"] : []),
    ...(values["log-connections"] ? ["--log-connections"] : []),
    values.redis !== undefined
      ? `--redis=${values.redis}`
      : `--relay=${relay!.url}`,
  ];
  const children = new Map<number, Deno.ChildProcess>();
  const restarts: number[] = [];
  let stopping = false;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => stopped = resolve);

  const spawn = (): Promise<number> => {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
    }).spawn();
    children.set(child.pid, child);
    const ready = forwardLines(child);
    child.status.then((status) => {
      children.delete(child.pid);
      if (stopping) return;
      const now = Date.now();
      restarts.push(now);
      while (restarts[0] < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        console.error("Workers keep dying: giving up");
        stop();
        return;
      }
      spawn().then((pid) =>
        console.log(
          `worker ${child.pid} exited (${status.code}), restarted as ${pid}`,
        )
      );
    });
    return ready.then(() => child.pid);
  };

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const running = [...children.values()];
    for (const child of running) {
      try {
        Deno.kill(child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(running.map((child) => child.status));
    await relay?.shutdown();
    stopped();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);

  const pids = await Promise.all(Array.from({ length: workers }, spawn));
  console.log(
    `listening ws://${values.hostname}:${shared}/ workers ${pids.join(",")}`,
  );
  await done;
  Deno.exit(0);
}

/** Copies a worker's output lines; resolves at its `listening` line. */
function forwardLines(child: Deno.ChildProcess): Promise<void> {
  let ready!: () => void;
  const listening = new Promise<void>((resolve) => ready = resolve);
  (async () => {
    let rest = "";
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("listening ")) ready();
        else console.log(line);
      }
    }
  })();
  return listening;
}

if (workers > 1 && !values.worker) await supervise();
else await runServer();
