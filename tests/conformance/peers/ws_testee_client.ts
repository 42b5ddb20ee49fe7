/**
 * A reference testee client on `npm:ws`: speaks the fuzzing-testee protocol
 * (`/getCaseCount`, `/runCase?case=N&agent=A` echoing every message,
 * `/updateReports?agent=A`) against the base URL given as first argument.
 *
 * Usage: `deno run -A tests/conformance/peers/ws_testee_client.ts ws://127.0.0.1:9002 [--no-deflate]`
 *
 * @module
 */

import { WebSocket } from "npm:ws@8.23.0";

const base = Deno.args[0] ?? "ws://127.0.0.1:9001";
const deflate = !Deno.args.includes("--no-deflate");
const agent = "ws";

function open(
  path: string,
  onMessage?: (ws: WebSocket, data: unknown, binary: boolean) => void,
) {
  return new Promise<void>((resolve) => {
    const ws = new WebSocket(base + path, {
      perMessageDeflate: deflate,
      maxPayload: 16 * 1024 * 1024,
      // ws limits fragments per message to 16384 by default; a testee accepts any number.
      maxFragments: 0,
    });
    ws.on("message", (data, binary) => onMessage?.(ws, data, binary));
    ws.on("error", () => {});
    ws.on("close", () => resolve());
  });
}

let count = 0;
await open("/getCaseCount", (_ws, data) => count = Number(String(data)));
for (let n = 1; n <= count; n++) {
  await open(
    `/runCase?case=${n}&agent=${agent}`,
    (ws, data, binary) => ws.send(data as Uint8Array, { binary }),
  );
}
await open(`/updateReports?agent=${agent}`);
console.log(`ran ${count} cases`);
