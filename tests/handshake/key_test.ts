import { assert, assertEquals } from "@std/assert";
import { acceptKey, generateKey, isValidKey } from "../../src/handshake/key.ts";
import { RFC_ACCEPT, RFC_KEY } from "./_fixtures.ts";

Deno.test("acceptKey() gives the RFC 6455 §1.3 example's value", async () => {
  assertEquals(await acceptKey(RFC_KEY), RFC_ACCEPT);
});

Deno.test("generateKey() makes distinct 16-byte base64 keys", () => {
  const keys = new Set(Array.from({ length: 100 }, generateKey));
  assertEquals(keys.size, 100);
  for (const key of keys) {
    assert(isValidKey(key), key);
    assertEquals(Uint8Array.from(atob(key), (c) => c.charCodeAt(0)).length, 16);
  }
});

Deno.test("isValidKey() accepts only the base64 of 16 bytes", () => {
  assert(isValidKey(RFC_KEY));
  assert(isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  assert(isValidKey("/////////////////////w=="));
  for (
    const bad of [
      "",
      "c2hvcnQ=", // 5 bytes
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZQ==\n",
      " dGhlIHNhbXBsZSBub25jZQ==",
      "dGhlIHNhbXBsZSBub25jZR==", // trailing bits set
      "AAAAAAAAAAAAAAAAAAAAAAAA", // 18 bytes
      "dGhlIHNhbXBsZSBub25jZ-==",
    ]
  ) assert(!isValidKey(bad), bad);
});

Deno.test("generateKey(): npm:ws answers a raw request carrying one with its acceptKey()", async () => {
  // @ts-types="npm:@types/ws@8.18.2"
  const { WebSocketServer } = await import("npm:ws@8.23.0");
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const { port } = wss.address() as { port: number };
  const key = generateKey();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  await tcp.write(new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(1024);
  const n = (await tcp.read(buf)) ?? 0;
  const head = new TextDecoder().decode(buf.subarray(0, n));
  assert(head.startsWith("HTTP/1.1 101"), head);
  assert(head.includes(`Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n`));
  tcp.close();
  for (const ws of wss.clients) ws.terminate();
  await new Promise((resolve) => wss.close(resolve));
});
