import { assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { accept } from "../../src/handshake/accept.ts";
import { dial } from "../../src/handshake/dial.ts";
import { CloseError, WebSocketError } from "../../src/codec/errors.ts";
import { OpCode } from "../../src/codec/opcode.ts";
import {
  echoHandler,
  type MessageHandler,
  serveMessages,
} from "../../src/servers/serve_messages.ts";
import type { WebSocketConn } from "../../src/conn/websocket_conn.ts";
import { dec, enc } from "../_wire.ts";

/**
 * A server conn running `serveMessages` with `handler`, and a client dialled to
 * it; `done` settles with what `serveMessages` rejected with, or null.
 */
async function served(handler: MessageHandler): Promise<{
  client: WebSocketConn;
  done: Promise<unknown>;
  listener: Deno.Listener;
}> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [server, client] = await Promise.all([
    listener.accept().then((tcp) => accept(tcp)),
    dial(`ws://127.0.0.1:${listener.addr.port}/`),
  ]);
  const done = serveMessages(server, handler).then(() => null, (err) => err);
  return { client, done, listener };
}

Deno.test("serveMessages with echoHandler: text and binary come back as sent; it ends when the peer closes", async () => {
  const { client, done, listener } = await served(echoHandler);
  await client.writeMessage(OpCode.Text, "héllo");
  const text = await client.readMessage();
  assertEquals([text.opcode, dec(text.data)], [OpCode.Text, "héllo"]);
  const big = new Uint8Array(100_000).map((_, i) => i % 251);
  await client.writeMessage(OpCode.Binary, big);
  const bin = await client.readMessage();
  assertEquals([bin.opcode, bin.data], [OpCode.Binary, big]);
  await client.close(1000, "bye");
  assertEquals(await done, null);
  assertEquals((await client.closed).code, 1000);
  listener.close();
});

Deno.test("serveMessages: strings go as text, bytes as binary, objects as given, nothing as nothing, promises awaited", async () => {
  let n = 0;
  const { client, done, listener } = await served(async (msg) => {
    const text = dec(msg.data);
    switch (n++) {
      case 0:
        return text.toUpperCase();
      case 1:
        return enc(text);
      case 2:
        return { opcode: OpCode.Binary, data: "as binary" };
      case 3:
        return undefined;
      default:
        await new Promise((r) => setTimeout(r, 5));
        return `late ${text}`;
    }
  });
  for (const word of ["a", "b", "c", "skipped", "e"]) {
    await client.writeMessage(OpCode.Text, word);
  }
  const got = [];
  for (let i = 0; i < 4; i++) {
    const m = await client.readMessage();
    got.push([m.opcode, dec(m.data)]);
  }
  assertEquals(got, [[1, "A"], [2, "b"], [2, "as binary"], [1, "late e"]]);
  await client.close();
  assertEquals(await done, null);
  listener.close();
});

Deno.test("serveMessages: a handler that throws closes with 1011 and rejects with its error", async () => {
  const { client, done, listener } = await served((msg) => {
    if (dec(msg.data) === "boom") throw new Error("secret detail");
    return msg;
  });
  await client.writeMessage(OpCode.Text, "fine");
  assertEquals(dec((await client.readMessage()).data), "fine");
  await client.writeMessage(OpCode.Text, "boom");
  const err = await assertRejects(() => client.readMessage(), CloseError);
  assertEquals([err.code, err.reason], [1011, "Handler failed"]);
  assertEquals(((await done) as Error).message, "secret detail");
  listener.close();
});

Deno.test("serveMessages: an async handler that rejects closes with 1011 and rejects with its error", async () => {
  const { client, done, listener } = await served(async (msg) => {
    await Promise.resolve();
    if (dec(msg.data) === "boom") throw new Error("late detail");
    return msg;
  });
  await client.writeMessage(OpCode.Text, "boom");
  const err = await assertRejects(() => client.readMessage(), CloseError);
  assertEquals([err.code, err.reason], [1011, "Handler failed"]);
  assertEquals(((await done) as Error).message, "late detail");
  listener.close();
});

Deno.test("serveMessages: a protocol error rejects with the WebSocketError the conn closed with", async () => {
  const { client, done, listener } = await served(echoHandler);
  // Reserved bits no extension negotiated.
  await client.writeFrame(true, 0x20, OpCode.Text, enc("x"));
  const err = await done;
  assertInstanceOf(err, WebSocketError);
  assertEquals((err as WebSocketError).closeCode, 1002);
  await client.readMessage().catch(() => {});
  assertEquals((await client.closed).code, 1002);
  listener.close();
});
