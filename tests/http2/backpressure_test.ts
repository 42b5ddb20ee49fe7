import { assert, assertEquals } from "@std/assert";
import { OpCode, type WebSocketConn } from "../../mod.ts";
import { dialHttp2, Http2Agent } from "../../http2.ts";
import { echo, startServer } from "./_servers.ts";

const MESSAGES = 160;
const SIZE = 64 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("h2: a peer that stops reading one stream stalls that stream's writer, not its neighbours", async () => {
  let sent = 0;
  let flooded!: Promise<void>;
  await using s = await startServer({
    websocket: (conn, request) => {
      if (new URL(request.url).pathname !== "/flood") return echo(conn);
      flooded = (async () => {
        const payload = new Uint8Array(SIZE).fill(7);
        for (let i = 0; i < MESSAGES; i++) {
          await conn.writeMessage(OpCode.Binary, payload);
          sent++;
        }
      })();
      return flooded.then(() => conn.readMessage().then(() => {}, () => {}));
    },
  });
  const agent = new Http2Agent();
  const stalled = await dialHttp2(`${s.wsUrl}/flood`, { agent });
  const busy = await dialHttp2(`${s.wsUrl}/echo`, { agent });
  assertEquals(agent.size, 1);
  await sleep(300);
  const early = sent;
  // The other stream of the same connection goes on at full speed.
  const payload = new Uint8Array(16 * 1024).fill(1);
  for (let i = 0; i < 64; i++) {
    await busy.writeMessage(OpCode.Binary, payload);
    assertEquals((await busy.readMessage()).data.length, payload.length);
  }
  await sleep(200);
  // Flow control (and the transport's 64 KiB read queue) hold the writer back.
  assertEquals(sent, early, "the stalled writer made no progress");
  assert(sent * SIZE < 1024 * 1024, `${sent} messages went out unread`);
  // Reading again lets everything through.
  let received = 0;
  for (let i = 0; i < MESSAGES; i++) {
    received += (await stalled.readMessage()).data.length;
  }
  assertEquals(received, MESSAGES * SIZE);
  await flooded;
  assertEquals(sent, MESSAGES);
  await Promise.all([stalled.close(), busy.close()]);
  agent.close();
});

Deno.test("h2: a client's writes wait while the server does not read its stream", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  await using s = await startServer({
    websocket: async (conn: WebSocketConn) => {
      await gate;
      await echo(conn);
    },
  });
  const conn = await dialHttp2(s.wsUrl);
  let written = 0;
  const payload = new Uint8Array(SIZE);
  const writing = (async () => {
    for (let i = 0; i < 64; i++) {
      await conn.writeMessage(OpCode.Binary, payload);
      written++;
    }
  })();
  await sleep(300);
  assert(written < 64, `all ${written} writes completed without a reader`);
  assert(written * SIZE < 1024 * 1024, `${written} messages went out unread`);
  release();
  // Echoes come back while we still write: read them all.
  let echoed = 0;
  while (echoed < 64) {
    await conn.readMessage();
    echoed++;
  }
  await writing;
  assertEquals(written, 64);
  await conn.close();
});
