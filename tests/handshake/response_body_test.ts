import { assertEquals } from "@std/assert";
import {
  MAX_REFUSAL_BODY,
  readRefusalBody,
} from "../../src/handshake/response_body.ts";
import type { HttpResponse } from "../../src/handshake/http_parse.ts";
import { tcpPair } from "../_pair.ts";
import { dec, enc } from "../_wire.ts";

function response(
  status: number,
  fields: Record<string, string>,
): HttpResponse {
  return {
    version: "HTTP/1.1",
    status,
    reason: "",
    headers: new Headers(fields),
  };
}

Deno.test("readRefusalBody: a chunked body arriving in pieces over TCP is decoded", async () => {
  const { client, server } = await tcpPair();
  const head = response(403, { "transfer-encoding": "chunked" });
  const pieces = ["5\r\nhel", "lo\r\n6\r\n wor", "ld\r\n0\r\n\r\n"];
  const body = readRefusalBody(client, head, enc(""), "auto");
  for (const p of pieces) {
    await server.write(enc(p));
    await new Promise((r) => setTimeout(r, 5));
  }
  assertEquals(dec(await body), "hello world");
  client.close();
  server.close();
});

Deno.test("readRefusalBody: Content-Length is honoured past what arrived with the head", async () => {
  const { client, server } = await tcpPair();
  const body = readRefusalBody(
    client,
    response(500, { "content-length": "6" }),
    enc("abc"),
    "auto",
  );
  await server.write(enc("defEXTRA"));
  assertEquals(dec(await body), "abcdef");
  client.close();
  server.close();
});

Deno.test("readRefusalBody: no body for 204/304/1xx or a zero or bad length; 4 KiB at most", async () => {
  const { client, server } = await tcpPair();
  for (
    const [status, fields] of [
      [204, {}],
      [304, {}],
      [100, {}],
      [400, { "content-length": "0" }],
      [400, { "content-length": "-3" }],
    ] as const
  ) {
    assertEquals(
      (await readRefusalBody(
        client,
        response(status, fields),
        enc("zz"),
        "auto",
      )).length,
      0,
    );
  }
  const big = new Uint8Array(MAX_REFUSAL_BODY + 100).fill(0x61);
  const got = await readRefusalBody(
    client,
    response(500, { "content-length": String(big.length) }),
    big,
    "auto",
  );
  assertEquals(got.length, MAX_REFUSAL_BODY);
  client.close();
  server.close();
});
