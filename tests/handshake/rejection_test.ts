import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { encodeRejection, Rejection } from "../../src/handshake/rejection.ts";

const dec = new TextDecoder();

Deno.test("Rejection takes 300-599 and defaults its message", () => {
  assertEquals(new Rejection(403).message, "Forbidden");
  assertEquals(new Rejection(403, { body: "No" }).message, "No");
  assertEquals(
    new Rejection(403, { body: "No", message: "Log" }).message,
    "Log",
  );
  assertEquals(new Rejection(499).message, "Status 499");
  assertEquals(
    new Rejection(302, { headers: { location: "/login" } }).status,
    302,
  );
  assertInstanceOf(new Rejection(400), Error);
  for (const bad of [101, 200, 299, 600, 404.5, NaN]) {
    assertThrows(() => new Rejection(bad), RangeError, undefined, String(bad));
  }
  assertThrows(
    () => new Rejection(400, { headers: { "bad name": "x" } }),
    TypeError,
  );
  assertThrows(
    () => new Rejection(400, { headers: { a: "x\r\ny: z" } }),
    TypeError,
  );
});

Deno.test("encodeRejection() sends the status, fields and UTF-8 body", () => {
  const bytes = encodeRejection(
    new Rejection(429, {
      headers: { "Retry-After": "5", "Content-Length": "999", Connection: "x" },
      body: "Trop tôt",
    }),
  );
  const text = dec.decode(bytes);
  assertEquals(
    text,
    "HTTP/1.1 429 Too Many Requests\r\nConnection: x, close\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\n" +
      "retry-after: 5\r\n\r\nTrop tôt",
  );
});
