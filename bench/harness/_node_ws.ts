/**
 * `ws` under Node for `bench:idle`: installs `ws` with npm into a cache
 * directory of the harness's own (under the OS temp directory) when it is not
 * there yet, then runs an echo server on it in `node --expose-gc` that answers
 * the harness's `mem` queries as our servers do (see `_process.ts`).
 *
 * @module
 */

import { tmpdir } from "node:os";
import { Child } from "./_process.ts";

/** The version measured beside ours (the one `ws` under Deno runs). */
export const WS_VERSION = "8.23.0";
const FD_LIMIT = 20_000;

/** Where the harness keeps its copy of `ws`. */
export function wsCacheDir(): string {
  return `${tmpdir()}/wsx-bench-node/ws-${WS_VERSION}`;
}

/**
 * The cache directory, with `ws` installed in it (by `npm install`, once).
 *
 * @throws {Error} When `node`/`npm` are missing or the install fails (offline,
 * say), saying how to install it by hand.
 */
export async function ensureWs(): Promise<string> {
  const dir = wsCacheDir();
  const manifest = `${dir}/node_modules/ws/package.json`;
  try {
    const { version } = JSON.parse(await Deno.readTextFile(manifest));
    if (version === WS_VERSION) return dir;
  } catch {
    // Not installed yet.
  }
  await Deno.mkdir(dir, { recursive: true });
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        dir,
        "--no-save",
        "--no-audit",
        "--no-fund",
        `ws@${WS_VERSION}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(`Cannot run npm to install ws: ${err}`);
  }
  if (!output.success) {
    const why = new TextDecoder().decode(output.stderr).trim().split("\n")
      .slice(-3).join(" ");
    throw new Error(
      `npm could not install ws@${WS_VERSION} into ${dir} (offline?): ${why}. ` +
        `Install it by hand there (npm install --prefix ${dir} ws@${WS_VERSION}) ` +
        "or leave node-ws out of --server.",
    );
  }
  return dir;
}

/**
 * The server run in Node: echoes, counts open connections, and answers each
 * `mem`/`mem idle` line on stdin with its memory after `gc()`.
 */
const SCRIPT = `
const { WebSocketServer } = require(process.env.WS_DIR + "/node_modules/ws");
let open = 0;
const server = new WebSocketServer({
  host: "127.0.0.1", port: 0, perMessageDeflate: process.env.WS_DEFLATE === "1",
});
server.on("connection", (socket) => {
  open++;
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("close", () => open--);
  socket.on("error", () => socket.terminate());
});
server.on("listening", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  pending += text;
  let end;
  while ((end = pending.indexOf("\\n")) >= 0) {
    const command = pending.slice(0, end).trim();
    pending = pending.slice(end + 1);
    if (command !== "mem" && command !== "mem idle") continue;
    for (let i = 0; i < (command === "mem idle" ? 3 : 2); i++) global.gc();
    const m = process.memoryUsage();
    console.log(JSON.stringify({
      heap: m.heapUsed, external: m.external, heapTotal: m.heapTotal,
      rss: m.rss, connections: open,
    }));
  }
});
`;

/** Starts the `ws` echo server under Node (installing `ws` first if needed). */
export async function nodeWsServer(deflate: boolean): Promise<Child> {
  const dir = await ensureWs();
  const process = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${FD_LIMIT} 2>/dev/null; exec node --expose-gc -e "$0"`,
      SCRIPT,
    ],
    env: { WS_DIR: dir, WS_DEFLATE: deflate ? "1" : "0" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new Child(process, true, true);
}
