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
