import { assertEquals, assertThrows } from "@std/assert";
import {
  encodeHead,
  findHeadEnd,
  headLength,
  HttpStatus,
  indexOfBareLf,
  parseRequest,
  parseResponse,
} from "../../src/handshake/http_parse.ts";
import { assertStatus, bytes } from "./_fixtures.ts";

const REQUEST = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n" +
  "Upgrade: websocket\r\nX-Twice: a\r\nx-twice: b\r\n\r\n";

Deno.test("parseRequest() reads the request line and header fields", () => {
  const head = bytes(REQUEST.slice(0, -4));
  const req = parseRequest(head);
  assertEquals(req.method, "GET");
  assertEquals(req.target, "/chat?x=1");
  assertEquals(req.version, "HTTP/1.1");
  assertEquals(req.headers.get("HOST"), "example.com");
  assertEquals(req.headers.get("x-twice"), "a, b");
});

Deno.test("parseRequest() trims optional whitespace and keeps latin1 bytes", () => {
  const head = new Uint8Array([
    ...bytes("GET / HTTP/1.1\r\nX-A: \t v a l \t\r\nX-B:\r\nX-C: caf"),
    0xe9,
  ]);
  const req = parseRequest(head);
  assertEquals(req.headers.get("x-a"), "v a l");
  assertEquals(req.headers.get("x-b"), "");
  assertEquals(req.headers.get("x-c"), "caf\u00e9");
});

Deno.test("parseRequest() refuses malformed heads with 400", () => {
  const cases: Record<string, string> = {
    "no target": "GET HTTP/1.1",
    "two spaces": "GET  / HTTP/1.1",
    "bad version": "GET / HTTP/11",
    "lower-case version": "GET / http/1.1",
    "control character in target": "GET /\x01 HTTP/1.1",
    "space before colon": "GET / HTTP/1.1\r\nHost : a",
    "no colon": "GET / HTTP/1.1\r\nHost a",
    "empty name": "GET / HTTP/1.1\r\n: a",
    "obsolete line folding": "GET / HTTP/1.1\r\nX-A: a\r\n b",
    "bare LF": "GET / HTTP/1.1\nHost: a",
    "bare CR": "GET / HTTP/1.1\r\nHost: a\rb",
    "NUL in value": "GET / HTTP/1.1\r\nHost: a\0b",
    "control character in value": "GET / HTTP/1.1\r\nHost: a\x7fb",
    "two Host fields": "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
  };
  for (const [name, head] of Object.entries(cases)) {
    const err = assertThrows(
      () => parseRequest(bytes(head)),
      Error,
      undefined,
      name,
    );
    assertStatus(err, HttpStatus.BadRequest);
  }
});

Deno.test("parseRequest() refuses too many fields with 431 and a long line with 414", () => {
  const fields = Array.from({ length: 3 }, (_, i) => `X-${i}: ${i}`);
  const head = bytes(["GET / HTTP/1.1", ...fields].join("\r\n"));
  assertEquals(parseRequest(head, { maxHeaders: 3 }).headers.get("x-2"), "2");
  assertStatus(
    assertThrows(() => parseRequest(head, { maxHeaders: 2 })),
    HttpStatus.RequestHeaderFieldsTooLarge,
  );
  const long = bytes(`GET /${"a".repeat(100)} HTTP/1.1`);
  assertStatus(
    assertThrows(() => parseRequest(long, { maxLineBytes: 50 })),
    HttpStatus.UriTooLong,
  );
});

Deno.test("parseResponse() reads the status line with or without a reason", () => {
  const a = parseResponse(
    bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"),
  );
  assertEquals([a.version, a.status, a.reason], [
    "HTTP/1.1",
    101,
    "Switching Protocols",
  ]);
  assertEquals(a.headers.get("upgrade"), "websocket");
  const b = parseResponse(bytes("HTTP/1.1 404"));
  assertEquals([b.status, b.reason], [404, ""]);
  const c = parseResponse(bytes("HTTP/1.1 500 "));
  assertEquals([c.status, c.reason], [500, ""]);
  for (const bad of ["HTTP/1.1 1011 Nope", "HTTP/1.1 OK", "ICY 200 OK", ""]) {
    assertStatus(
      assertThrows(() => parseResponse(bytes(bad))),
      HttpStatus.BadRequest,
    );
  }
});

Deno.test("encodeHead() writes one byte per character and refuses others", () => {
  const out = encodeHead("HTTP/1.1 200 OK", [["X-A", "caf\u00e9"]], bytes("!"));
  assertEquals(
    out,
    new Uint8Array([
      ...bytes("HTTP/1.1 200 OK\r\nX-A: caf"),
      0xe9,
      ...bytes("\r\n\r\n!"),
    ]),
  );
  assertThrows(
    () => encodeHead("HTTP/1.1 200 OK", [["X-A", "\u20ac"]]),
    TypeError,
  );
});

Deno.test("indexOfBareLf finds an LF without its CR, and only that", () => {
  const text = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
  );
  assertEquals(indexOfBareLf(text, 0, text.length), text.indexOf(0x0a, 17));
  const clean = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  assertEquals(indexOfBareLf(clean, 0, clean.length), -1);
  // Checked in pieces, as reads deliver it: the CR may be in the previous piece.
  for (let cut = 0; cut <= clean.length; cut++) {
    assertEquals(indexOfBareLf(clean, 0, cut), -1);
    assertEquals(indexOfBareLf(clean, cut, clean.length), -1);
  }
  assertEquals(indexOfBareLf(new Uint8Array([0x0a]), 0, 1), 0);
});

Deno.test("findHeadEnd: the blank line after CRLF or a bare LF; headLength drops the last line break", () => {
  const cases: [string, number, string][] = [
    ["GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 27, "GET / HTTP/1.1\r\nHost: a"],
    ["GET / HTTP/1.1\nHost: a\n\nrest", 24, "GET / HTTP/1.1\nHost: a"],
    ["GET / HTTP/1.1\r\nHost: a\r\n\nrest", 26, "GET / HTTP/1.1\r\nHost: a"],
    ["GET / HTTP/1.1\r\nHost: a\n\r\nrest", 26, "GET / HTTP/1.1\r\nHost: a"],
  ];
  for (const [text, end, head] of cases) {
    const buf = new TextEncoder().encode(text);
    assertEquals(findHeadEnd(buf, 0, buf.length), end, JSON.stringify(text));
    assertEquals(
      new TextDecoder().decode(buf.subarray(0, headLength(buf, end))),
      head,
    );
    // Not yet complete one byte short of the end.
    assertEquals(findHeadEnd(buf, 0, end - 1), -1, JSON.stringify(text));
  }
  const open = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n");
  assertEquals(findHeadEnd(open, 0, open.length), -1);
});
