import {
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  dial,
  OpCode,
  upgradeWebSocket,
  type WebSocketConn,
} from "../../mod.ts";
import { dec } from "../_wire.ts";

/** One Deno.serve upgrade on 127.0.0.1, handed to `handler` as a WebSocketConn. */
async function withDenoConn(
  handler: (conn: WebSocketConn) => Promise<void>,
): Promise<void> {
  let outcome!: Promise<void>;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { response, conn } = upgradeWebSocket(req);
      outcome = handler(conn); // typed as the one connection interface
      return response;
    },
  );
  const client = await dial(`ws://127.0.0.1:${server.addr.port}`);
  try {
    for await (const msg of client) {
      await client.writeMessage(msg.opcode, msg.data);
    }
    await outcome;
  } finally {
    client.abort();
    await server.shutdown();
  }
}

Deno.test("DenoWebSocketConn is a WebSocketConn: messages work, what Deno forbids rejects with TypeError", async () => {
  await withDenoConn(async (conn) => {
    assertEquals([conn.role, conn.chunkSize, conn.extensions], [
      "server",
      0,
      "",
    ]);
    await conn.writeMessage(OpCode.Text, "through the interface");
    assertEquals(dec((await conn.readMessage()).data), "through the interface");
    for (
      const call of [
        () => conn.readHeader(),
        () => conn.readPayload(new Uint8Array(8)),
        () => conn.readFrame(new Uint8Array(8)),
        () => conn.writeFrame(true, 0, OpCode.Text, new Uint8Array(1)),
        () => conn.pong(),
        () => conn.ping(),
        () => conn.keepAlive(1_000),
      ]
    ) {
      await assertRejects(call, TypeError, "Deno.upgradeWebSocket");
    }
    // Handlers Deno cannot call are refused rather than silently ignored.
    assertThrows(() => conn.onPing = () => {}, TypeError, "pings");
    assertThrows(() => conn.onPong = () => {}, TypeError, "pongs");
    conn.onPing = undefined;
    assertStrictEquals(conn.onPong, undefined);
    // The connection is still fine after the refusals.
    await conn.writeMessage(OpCode.Binary, new Uint8Array([1, 2, 3]));
    assertEquals([...(await conn.readMessage()).data], [1, 2, 3]);
    await conn.close();
  });
});
