import { assert, assertEquals } from "@std/assert";
import { createServer } from "node:http";
import type { Duplex } from "node:stream";
import { checkUpgrade } from "../../src/handshake/check_upgrade.ts";
import { dial } from "../../src/handshake/dial.ts";
import { HandshakeError } from "../../src/codec/errors.ts";
import { Conn } from "../../src/conn/conn.ts";
import { NodeSocketTransport } from "../../src/io/node_socket.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import { RFC_ACCEPT, RFC_KEY } from "./_fixtures.ts";
import { dec } from "../_wire.ts";

const VALID = {
  host: "example.com",
  upgrade: "websocket",
  connection: "keep-alive, Upgrade",
  "sec-websocket-key": RFC_KEY,
  "sec-websocket-version": "13",
  "sec-websocket-protocol": "chat, superchat",
  "sec-websocket-extensions": "permessage-deflate",
};

Deno.test("checkUpgrade: a valid request gives the accept value and the offers", async () => {
  assertEquals(await checkUpgrade({ method: "GET", headers: VALID }), {
    ok: true,
    accept: RFC_ACCEPT,
    protocols: ["chat", "superchat"],
    extensions: "permessage-deflate",
  });
});

Deno.test("checkUpgrade: each fault is a rejection with its status", async () => {
  const without = (name: string) =>
    Object.fromEntries(Object.entries(VALID).filter(([k]) => k !== name));
  const cases: [Parameters<typeof checkUpgrade>[0], number][] = [
    [{ method: "POST", headers: VALID }, 405],
    [{ method: "GET", headers: VALID, version: "HTTP/1.0" }, 400],
    [{ method: "GET", headers: without("host") }, 400],
    [{ method: "GET", headers: without("upgrade") }, 426],
    [{ method: "GET", headers: without("connection") }, 426],
    [
      { method: "GET", headers: { ...VALID, "sec-websocket-version": "8" } },
      426,
    ],
    [
      { method: "GET", headers: { ...VALID, "sec-websocket-key": "c2hvcnQ=" } },
      400,
    ],
    [{ method: "GET", headers: { ...VALID, "content-length": "3" } }, 400],
  ];
  for (const [request, status] of cases) {
    const result = await checkUpgrade(request);
    assertEquals(result.ok ? 101 : result.rejection.status, status);
  }
  const r = await checkUpgrade({ method: "PUT", headers: VALID });
  assertEquals(!r.ok && r.rejection.headers.get("allow"), "GET");
});

Deno.test("checkUpgrade: a node:http server doing its own 101 with it is accepted by dial", async () => {
  const server = createServer();
  const served: Promise<string>[] = [];
  server.on("upgrade", (req, socket: Duplex) => {
    served.push((async () => {
      const check = await checkUpgrade({
        method: req.method!,
        headers: req.headers as Record<string, string>,
      });
      if (!check.ok) {
        socket.end(
          `HTTP/1.1 ${check.rejection.status} No\r\nContent-Length: 0\r\n\r\n`,
        );
        return `refused ${check.rejection.status}`;
      }
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${check.accept}\r\n\r\n`,
      );
      const conn = new Conn(new NodeSocketTransport(socket), {
        role: "server",
      });
      const msg = await conn.readMessage();
      await conn.writeMessage(OpCode.Text, msg.data);
      await conn.readMessage().catch(() => {});
      return "served";
    })());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = await dial(`ws://127.0.0.1:${port}/`);
  await client.writeMessage(OpCode.Text, "checked");
  assertEquals(dec((await client.readMessage()).data), "checked");
  await client.close();
  const refused = await dial(`ws://127.0.0.1:${port}/`, {
    headers: { "Content-Length": "5" },
  }).catch((e) => e);
  assert(refused instanceof HandshakeError);
  assertEquals(refused.status, 400);
  assertEquals(await Promise.all(served), ["served", "refused 400"]);
  await new Promise((resolve) => server.close(resolve));
});
