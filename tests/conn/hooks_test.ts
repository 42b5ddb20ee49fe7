/**
 * Lifecycle hooks over loopback TCP: frames both ways (control replies and
 * prepared frames included), messages whole and streamed, errors and the close,
 * on plain and compressed connections, and through `accept`/`dial`.
 */

import { assert, assertEquals } from "@std/assert";
import {
  accept,
  CloseCode,
  Conn,
  type ConnHooks,
  dial,
  OpCode,
  PreparedMessage,
  Rsv,
  type WebSocketConn,
} from "../../mod.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { connPair, frame, tcpPair } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

/** Hooks that log every call as a line, and the connections they were told of. */
function recorder(): {
  hooks: ConnHooks;
  log: string[];
  conns: Set<WebSocketConn>;
} {
  const log: string[] = [];
  const conns = new Set<WebSocketConn>();
  const raw: ConnHooks = {
    onReadFrame: (h, p) =>
      log.push(
        `read frame op=${h.opcode} fin=${h.fin} rsv=${h.rsv} len=${h.length} ${
          dec(p)
        }`,
      ),
    onWriteFrame: (h, p) =>
      log.push(
        `write frame op=${h.opcode} fin=${h.fin} rsv=${h.rsv} len=${h.length} ${
          dec(p)
        }`,
      ),
    onReadMessage: (m) =>
      log.push(
        `read message op=${m.opcode} len=${m.length} ${
          m.data ? dec(m.data) : "(streamed)"
        }`,
      ),
    onWriteMessage: (m) =>
      log.push(
        `write message op=${m.opcode} len=${m.length} ${
          m.data ? dec(m.data) : "(streamed)"
        }`,
      ),
    onReadError: (e) => log.push(`read error ${(e as Error).message}`),
    onWriteError: (e) => log.push(`write error ${(e as Error).message}`),
    onClose: (code, reason, error) =>
      log.push(
        `close ${code} ${reason} ${
          error === null ? "-" : (error as Error).message
        }`,
      ),
  };
  // Every hook also notes the connection it was called for (its last argument).
  const hooks = Object.fromEntries(
    Object.entries(raw).map(([name, hook]) => [
      name,
      (...args: unknown[]) => {
        conns.add(args[args.length - 1] as WebSocketConn);
        (hook as (...a: unknown[]) => void)(...args);
      },
    ]),
  ) as ConnHooks;
  return { hooks, log, conns };
}

Deno.test("hooks see frames and messages both ways, control replies and the close", async () => {
  const { hooks, log, conns } = recorder();
  const { client, server } = await connPair({ closeTimeout: 1000 }, { hooks });
  await client.writeFrame(false, 0, OpCode.Text, enc("he"));
  await client.ping(enc("p"));
  await client.writeFrame(true, 0, OpCode.Continuation, enc("llo"));
  const msg = await server.readMessage();
  await server.writeMessage(msg.opcode, msg.data);
  await server.writePrepared(new PreparedMessage(OpCode.Text, "prep"));
  await client.readMessage();
  await client.readMessage();
  await client.close(CloseCode.GoingAway, "bye");
  await server.readMessage().catch(() => {});
  await server.closed;
  assertEquals(log, [
    "read frame op=1 fin=false rsv=0 len=2 he",
    "read frame op=9 fin=true rsv=0 len=1 p",
    "write frame op=10 fin=true rsv=0 len=1 p",
    "read frame op=0 fin=true rsv=0 len=3 llo",
    "read message op=1 len=5 hello",
    "write frame op=1 fin=true rsv=0 len=5 hello",
    "write message op=1 len=5 hello",
    "write frame op=1 fin=true rsv=0 len=4 prep",
    "write message op=1 len=4 prep",
    "read frame op=8 fin=true rsv=0 len=5 \x03\xe9bye".replace(
      "\x03\xe9",
      dec(new Uint8Array([0x03, 0xe9])),
    ),
    "write frame op=8 fin=true rsv=0 len=2 " + dec(new Uint8Array([3, 0xe9])),
    "close 1001 bye -",
  ]);
  assertEquals([...conns], [server]);
});

Deno.test("hooks see read errors, streamed messages and the failure that closed", async () => {
  const { hooks, log } = recorder();
  const tcp = await tcpPair();
  const server = new Conn(tcp.server, {
    role: "server",
    closeTimeout: 500,
    hooks,
  });
  const client = new Conn(tcp.client, { role: "client", closeTimeout: 500 });
  const sent = client.streamMessage(
    OpCode.Binary,
    (async function* () {
      yield new Uint8Array(5000);
    })(),
    4096,
  );
  const msg = await server.readMessageStream();
  const buf = new Uint8Array(1000);
  while ((await msg.read(buf)) !== null) { /* read on */ }
  await sent;
  // An unmasked client frame: a protocol error.
  await tcp.client.write(frame(0x81, "no mask", null));
  await server.readMessage().catch(() => {});
  await server.closed;
  client.abort();
  assertEquals(log.slice(0, 3), [
    "read frame op=2 fin=false rsv=0 len=4096 ",
    "read frame op=0 fin=true rsv=0 len=904 ",
    "read message op=2 len=5000 (streamed)",
  ]);
  assert(
    log.includes("read error Client frame is not masked"),
    log.join("\n"),
  );
  assert(
    log.some((l) =>
      l.startsWith("write frame op=8") &&
      l.endsWith("Client frame is not masked")
    ),
    log.join("\n"),
  );
  assert(
    log.includes(
      "close 1002 Client frame is not masked Client frame is not masked",
    ),
    log.join("\n"),
  );
});

Deno.test("on a compressed connection, frame hooks see the wire, message hooks the inflated message", async () => {
  const { hooks, log, conns } = recorder();
  const tcp = await tcpPair();
  const engine = zlibEngine();
  const server = new PerMessageDeflateConn(
    new Conn(tcp.server, { role: "server", rsvAllowed: Rsv.Rsv1, hooks }),
    null,
    { engine, threshold: 0 },
  );
  const client = new PerMessageDeflateConn(
    new Conn(tcp.client, { role: "client", rsvAllowed: Rsv.Rsv1 }),
    null,
    { engine, threshold: 0 },
  );
  const text = "hello hello hello hello";
  await client.writeMessage(OpCode.Text, text);
  const msg = await server.readMessage();
  assertEquals(dec(msg.data), text);
  await server.writeMessage(OpCode.Text, text);
  assertEquals(dec((await client.readMessage()).data), text);
  await client.streamMessage(
    OpCode.Text,
    (async function* () {
      yield enc(text);
    })(),
  );
  const streamed = await server.readMessageStream();
  while ((await streamed.read(new Uint8Array(7))) !== null) { /* read on */ }
  await server.streamMessage(
    OpCode.Text,
    (async function* () {
      yield enc(text);
    })(),
  );
  await client.readMessage();
  const lines = log.map((l) => l.replace(/len=(\d+) .*$/, "len=$1"));
  const wireLength = Number(/len=(\d+)/.exec(lines[0])![1]);
  assert(wireLength < text.length, `compressed ${wireLength} bytes`);
  assertEquals(lines[0], `read frame op=1 fin=true rsv=64 len=${wireLength}`);
  assertEquals(log[1], `read message op=1 len=${text.length} ${text}`);
  assert(/^write frame op=1 fin=true rsv=64 len=\d+$/.test(lines[2]));
  assertEquals(log[3], `write message op=1 len=${text.length} ${text}`);
  assertEquals(log[5], `read message op=1 len=${text.length} (streamed)`);
  assertEquals(log[7], `write message op=1 len=${text.length} (streamed)`);
  // Every hook is told of the connection the caller holds: the compressing one.
  assertEquals([...conns], [server]);
  await Promise.all([client.close(), server.close()]);
});

Deno.test("hooks pass through accept and dial, and see write errors", async () => {
  const server = recorder();
  const client = recorder();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((tcp) =>
    accept(tcp, { hooks: server.hooks })
  );
  const dialled = await dial(`ws://127.0.0.1:${listener.addr.port}/`, {
    hooks: client.hooks,
  });
  const conn = await accepted;
  listener.close();
  await dialled.writeMessage(OpCode.Text, "hi");
  assertEquals(dec((await conn.readMessage()).data), "hi");
  const clientEnd = dialled.readMessage().catch(() => {});
  await conn.close();
  await clientEnd;
  await dialled.closed;
  await dialled.writeMessage(OpCode.Text, "too late").catch(() => {});
  assert(server.log.includes("read message op=1 len=2 hi"), server.log.join());
  assert(client.log.includes("write message op=1 len=2 hi"), client.log.join());
  assert(
    client.log.some((l) => l.startsWith("write error Cannot write")),
    client.log.join("\n"),
  );
  assertEquals(
    client.log[client.log.length - 1],
    "write error Cannot write: the connection is closing or closed",
  );
  assert(server.log.includes("close 1000  -"), server.log.join());
});

Deno.test("one set of hooks tells the connections of a server apart", async () => {
  const { hooks, conns } = recorder();
  const messages = new Map<WebSocketConn, number>();
  const counting: ConnHooks = {
    ...hooks,
    onReadMessage: (m, conn) => {
      hooks.onReadMessage!(m, conn);
      messages.set(conn, (messages.get(conn) ?? 0) + 1);
    },
  };
  const a = await connPair({ closeTimeout: 1000 }, { hooks: counting });
  const b = await connPair({ closeTimeout: 1000 }, { hooks: counting });
  for (let i = 0; i < 3; i++) await a.client.writeMessage(OpCode.Text, "a");
  await b.client.writeMessage(OpCode.Text, "b");
  for (let i = 0; i < 3; i++) await a.server.readMessage();
  await b.server.readMessage();
  assertEquals(messages.get(a.server), 3);
  assertEquals(messages.get(b.server), 1);
  assert(conns.has(a.server) && conns.has(b.server));
  await Promise.all([
    a.client.close(),
    a.server.close(),
    b.client.close(),
    b.server.close(),
  ]);
});
