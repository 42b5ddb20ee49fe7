import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
// @ts-types="npm:@types/ws@8.18.2"
import { WebSocketServer } from "npm:ws@8.23.0";
import {
  closePayload,
  Conn,
  encodeFrame,
  encodeFrameInto,
  fragmentMessage,
  frameLength,
  newMaskKey,
  OpCode,
  Rsv,
} from "../../mod.ts";
import { readToEnd, tcpPair } from "../_pair.ts";
import { concatAll, dec, enc, hex, parseFrames } from "../_wire.ts";

const KEY = hex("37 fa 21 3d");

Deno.test("encodeFrame: RFC 6455 §5.7 examples, masked and not", () => {
  assertEquals(
    encodeFrame({ opcode: OpCode.Text, payload: "Hello" }),
    hex("81 05 48 65 6c 6c 6f"),
  );
  assertEquals(
    encodeFrame({ opcode: OpCode.Text, payload: "Hello", mask: KEY }),
    hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  );
  assertEquals(
    encodeFrame({ opcode: OpCode.Text, payload: "Hel", fin: false }),
    hex("01 03 48 65 6c"),
  );
  assertEquals(
    encodeFrame({ opcode: OpCode.Pong, payload: "Hello", mask: KEY }),
    hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
  );
});

Deno.test("encodeFrame: every length form reads back through parseFrames, the payload untouched", () => {
  for (const n of [0, 1, 125, 126, 65535, 65536, 70_001]) {
    const payload = new Uint8Array(n).map((_, i) => i * 31);
    const before = payload.slice();
    for (const mask of [false, true, KEY]) {
      const frame = { opcode: OpCode.Binary, payload, rsv: Rsv.Rsv1, mask };
      const bytes = encodeFrame(frame);
      assertEquals(bytes.length, frameLength(frame));
      const [parsed, ...more] = parseFrames(bytes);
      assertEquals(more.length, 0);
      assertEquals(parsed.nonMinimalLength, false);
      assertEquals([parsed.fin, parsed.rsv, parsed.opcode], [true, 0x40, 2]);
      assertEquals(parsed.masked, mask !== false);
      if (mask instanceof Uint8Array) assertEquals(parsed.key, KEY);
      assertEquals(parsed.payload, payload);
    }
    assertEquals(payload, before);
  }
});

Deno.test("encodeFrameInto: writes at an offset, returns the size, refuses a buffer too small", () => {
  const buf = new Uint8Array(16).fill(0xee);
  const n = encodeFrameInto(buf, 3, { opcode: OpCode.Ping, payload: "hi" });
  assertEquals(n, 4);
  assertEquals(buf.subarray(0, 8), hex("ee ee ee 89 02 68 69 ee"));
  assertThrows(
    () =>
      encodeFrameInto(buf, 6, {
        opcode: OpCode.Text,
        payload: "Hello",
        mask: true,
      }),
    RangeError,
    "A 11-byte frame does not fit at offset 6 of a 16-byte buffer",
  );
  assertThrows(
    () => encodeFrameInto(buf, -1, { opcode: OpCode.Text }),
    RangeError,
    "does not fit",
  );
  assertEquals(
    buf.subarray(7),
    new Uint8Array(9).fill(0xee),
    "nothing written",
  );
});

Deno.test("encodeFrame: refuses invalid frames with a RangeError", () => {
  const bad = [
    [{ opcode: 16 }, "Opcode must be 0-15"],
    [{ opcode: 1.5 }, "Opcode must be 0-15"],
    [{ opcode: 1, rsv: 0x80 }, "RSV bits"],
    [{ opcode: 1, mask: new Uint8Array(3) }, "4 bytes, not 3"],
    [{ opcode: OpCode.Ping, payload: new Uint8Array(126) }, "control frame"],
    [{ opcode: OpCode.Close, fin: false }, "control frame"],
  ] as const;
  for (const [frame, message] of bad) {
    assertThrows(() => encodeFrame(frame), RangeError, message);
  }
});

Deno.test("newMaskKey: fresh 4-byte keys", () => {
  const keys = Array.from({ length: 8 }, newMaskKey);
  assert(keys.every((k) => k.length === 4));
  assertNotEquals(keys[0], keys[1]);
  assertEquals(new Set(keys.map((k) => k.join())).size, 8);
});

/** A client's frames for a fragmented text, a ping, a binary and a close. */
function clientFrames(text: string): Uint8Array {
  return concatAll([
    ...fragmentMessage(OpCode.Text, text, 1000, { mask: true }).map(
      encodeFrame,
    ),
    encodeFrame({ opcode: OpCode.Ping, payload: "p", mask: true }),
    encodeFrame({
      opcode: OpCode.Binary,
      payload: hex("00 ff"),
      mask: newMaskKey(),
    }),
    encodeFrame({
      opcode: OpCode.Close,
      payload: closePayload(1000, "done"),
      mask: true,
    }),
  ]);
}

Deno.test("frames built with encodeFrame, written raw to TCP, are read by Conn", async () => {
  const { client, server } = await tcpPair();
  const conn = new Conn(server, { role: "server" });
  const text = "κόσμε ".repeat(700);
  await client.write(clientFrames(text));
  assertEquals(dec((await conn.readMessage()).data), text);
  const bin = await conn.readMessage();
  assertEquals([bin.opcode, [...bin.data]], [OpCode.Binary, [0, 255]]);
  await conn.readMessage().catch(() => {});
  assertEquals(await conn.closed, { code: 1000, reason: "done" });
  const answer = new Uint8Array(64);
  const n = (await client.read(answer)) ?? 0;
  const frames = parseFrames(answer.subarray(0, n));
  assertEquals(frames.map((f) => f.opcode), [OpCode.Pong, OpCode.Close]);
  assertEquals(frames[0].payload, enc("p"));
  client.close();
});

Deno.test("frames built with encodeFrame, written raw to TCP, are read by npm:ws", async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const received: string[] = [];
  const closed = new Promise<[number, string]>((resolve) => {
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => {
        received.push(
          isBinary ? `bin:${[...(data as Uint8Array)]}` : String(data),
        );
      });
      ws.on("close", (code, reason) => resolve([code, String(reason)]));
    });
  });
  const { port } = wss.address() as { port: number };
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  await tcp.write(enc(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const buf = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await tcp.read(buf);
    if (n === null) break;
    head += dec(buf.subarray(0, n));
  }
  assert(head.startsWith("HTTP/1.1 101"), head);
  const text = "x".repeat(2500);
  await tcp.write(clientFrames(text));
  const { bytes } = await readToEnd(tcp);
  tcp.close();
  assertEquals(parseFrames(bytes).map((f) => f.opcode), [
    OpCode.Pong,
    OpCode.Close,
  ]);
  assertEquals(await closed, [1000, "done"]);
  assertEquals(received, [text, "bin:0,255"]);
  await new Promise((resolve) => wss.close(resolve));
});
