import { assertEquals } from "@std/assert";
import { scanFields } from "../../src/handshake/field_scan.ts";
import { enc } from "../_wire.ts";

const HEAD =
  "GET / HTTP/1.1\r\nHost: a\r\nX-A:1\r\nbad line\r\n: empty\r\nX-B: \t2 3\t\r\n\r\n";

function scanAll(bytes: Uint8Array, step: number): string[] {
  const seen: string[] = [];
  let at = 0;
  for (
    let to = Math.min(step, bytes.length);;
    to = Math.min(to + step, bytes.length)
  ) {
    at = scanFields(bytes, at, to, (n, v) => void seen.push(`${n}=${v}`));
    if (to === bytes.length) return seen;
  }
}

Deno.test("scanFields: the same fields whether the head comes whole or byte by byte; malformed lines skipped", () => {
  const bytes = enc(HEAD);
  const whole = scanAll(bytes, bytes.length);
  assertEquals(whole, ["host=a", "x-a=1", "x-b=2 3"]);
  for (const step of [1, 2, 7]) assertEquals(scanAll(bytes, step), whole);
});

Deno.test("scanFields: a line is reported once its CRLF is in, and the start line never", () => {
  const seen: string[] = [];
  const bytes = enc("GET / HTTP/1.1\r\nHost: a\r");
  const at = scanFields(bytes, 0, bytes.length, (n) => void seen.push(n));
  assertEquals([seen, at], [[], 16]);
});
