import { assert, assertEquals, assertRejects } from "@std/assert";
import { HttpStatus } from "../../src/handshake/http_parse.ts";
import {
  readRequest,
  readResponse,
  writeHead,
} from "../../src/handshake/http_io.ts";
import { ByteSource, type Transport } from "../../src/io/transport.ts";
import { tcpPair } from "../_pair.ts";
import { assertStatus, bytes } from "./_fixtures.ts";

const REQUEST = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n" +
  "Upgrade: websocket\r\nX-Twice: a\r\nx-twice: b\r\n\r\n";

/** A transport whose reads return the given chunks, one per read. */
function chunked(chunks: Uint8Array[]): Transport {
  return {
    readable: ReadableStream.from(chunks),
    writable: new WritableStream(),
  };
}

/** Splits bytes at every offset given. */
function split(data: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const i of [...at, data.length]) {
    out.push(data.slice(from, i));
    from = i;
  }
  return out;
}

Deno.test("readRequest() finds the head across every split and loses no byte after it", async () => {
  const tail = new Uint8Array([0x81, 0x80, 1, 2, 3, 4]);
  const data = new Uint8Array([...bytes(REQUEST), ...tail]);
  for (let i = 1; i < data.length; i++) {
    for (const j of [i + 1, data.length - 1]) {
      if (j <= i || j >= data.length) continue;
      const transport = chunked(split(data, [i, j]));
      const { head, rest } = await readRequest(new ByteSource(transport, 8192));
      assertEquals(head.target, "/chat?x=1", `split at ${i}, ${j}`);
      // What was not read yet is still in the stream, for the connection.
      const after = [...rest];
      for await (const chunk of transport.readable) after.push(...chunk);
      assertEquals(new Uint8Array(after), tail, `split at ${i}, ${j}`);
    }
  }
});

Deno.test("readRequest() reads a request sent one byte per write over TCP", async () => {
  const { client, server } = await tcpPair();
  try {
    const data = bytes(REQUEST);
    const sending = (async () => {
      for (let i = 0; i < data.length; i++) {
        await client.write(data.subarray(i, i + 1));
      }
    })();
    const { head, rest } = await readRequest(new ByteSource(server, 8192));
    await sending;
    assertEquals(head.headers.get("upgrade"), "websocket");
    assertEquals(rest.length, 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("readRequest() keeps a frame sent in the same packet as the request", async () => {
  const { client, server } = await tcpPair();
  try {
    const frame = new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x21 ^ 2]);
    await client.write(new Uint8Array([...bytes(REQUEST), ...frame]));
    const { rest } = await readRequest(new ByteSource(server, 8192));
    assertEquals(rest, frame);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("readRequest() refuses a head over the size limit with 431", async () => {
  const { client, server } = await tcpPair();
  try {
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${
      "x".repeat(9000)
    }\r\n\r\n`;
    const sending = client.write(bytes(big)).catch(() => 0);
    const err = await assertRejects(() =>
      readRequest(new ByteSource(server, 8192))
    );
    assertStatus(err, HttpStatus.RequestHeaderFieldsTooLarge);
    server.close();
    await sending;
  } finally {
    client.close();
  }
});

Deno.test("readRequest() refuses a head that ends exactly past the limit with 431", async () => {
  const head = `GET / HTTP/1.1\r\nX: ${"y".repeat(100)}\r\n\r\n`;
  const source = new ByteSource(chunked([bytes(head)]), 128);
  const ok = await readRequest(source, { maxHeadBytes: head.length });
  assertEquals(ok.head.headers.get("x")?.length, 100);
  const tight = new ByteSource(chunked([bytes(head)]), 128);
  assertStatus(
    await assertRejects(() =>
      readRequest(tight, { maxHeadBytes: head.length - 1 })
    ),
    HttpStatus.RequestHeaderFieldsTooLarge,
  );
});

Deno.test("readRequest() refuses a long request line with 414 before the head ends", async () => {
  const line = `GET /${"a".repeat(5000)}`; // no CRLF yet: refused on length alone
  const source = new ByteSource(chunked([bytes(line)]), 8192);
  assertStatus(
    await assertRejects(() => readRequest(source)),
    HttpStatus.UriTooLong,
  );
});

Deno.test("readRequest() refuses a connection that ends early with 400", async () => {
  const { client, server } = await tcpPair();
  try {
    await client.write(bytes("GET / HTTP/1.1\r\nHost: a\r\n"));
    client.close();
    const err = await assertRejects(() =>
      readRequest(new ByteSource(server, 8192))
    );
    assertStatus(err, HttpStatus.BadRequest);
  } finally {
    server.close();
  }
});

Deno.test("readRequest() rejects with the signal's reason when aborted", async () => {
  const { client, server } = await tcpPair();
  try {
    await client.write(bytes("GET / HTTP/1.1\r\n"));
    const controller = new AbortController();
    const reading = readRequest(new ByteSource(server, 8192), {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("Stop")), 20);
    await assertRejects(() => reading, Error, "Stop");
  } finally {
    server.close(); // ends the pending read
    client.close();
  }
});

Deno.test("readRequest() in stream mode releases the reader for the next owner", async () => {
  const { client, server } = await tcpPair();
  try {
    await client.write(bytes(REQUEST + "tail"));
    const { rest } = await readRequest(new ByteSource(server, 8192, "byob"));
    assertEquals(new TextDecoder().decode(rest), "tail");
    const reader = server.readable.getReader(); // throws if still locked
    await client.write(bytes("more"));
    const { value } = await reader.read();
    assertEquals(new TextDecoder().decode(value), "more");
    reader.releaseLock();
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("readRequest() grows a small buffer up to the limit, keeping what it read", async () => {
  const cookie = "c".repeat(3000);
  const text = REQUEST.replace("\r\n\r\n", `\r\nCookie: ${cookie}\r\n\r\n`);
  const data = bytes(text + "xyz");
  const source = new ByteSource(chunked(split(data, [50, 700, 1500])), 100);
  const { head, rest } = await readRequest(source);
  assertEquals(head.headers.get("cookie"), cookie);
  assertEquals(head.headers.get("x-twice"), "a, b");
  assertEquals(new TextDecoder().decode(rest), "xyz");
  const tooBig = new ByteSource(chunked([bytes(text)]), 100);
  const err = await assertRejects(() =>
    readRequest(tooBig, { maxHeadBytes: 2048 })
  );
  assertStatus(err, HttpStatus.RequestHeaderFieldsTooLarge);
  await assertRejects(
    () => readRequest(new ByteSource(chunked([]), 8192), { maxHeaders: 0 }),
    RangeError,
  );
});

Deno.test("readResponse() reports an invalid or missing response with status 0", async () => {
  for (const text of ["HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 101 OK\r\n"]) {
    const source = new ByteSource(chunked([bytes(text)]), 8192);
    const err = await assertRejects(() => readResponse(source));
    assertStatus(err, 0);
    assert((err as Error).message.startsWith("Invalid handshake response"));
  }
  const good = new ByteSource(
    chunked([bytes("HTTP/1.1 101 \r\nA: b\r\n\r\nxy")]),
    8192,
  );
  const { head, rest } = await readResponse(good);
  assertEquals([head.status, head.headers.get("a"), rest.length], [
    101,
    "b",
    2,
  ]);
});

Deno.test("writeHead() writes to a socket and to a stream, releasing the writer", async () => {
  const { client, server } = await tcpPair();
  try {
    await writeHead(server, bytes("ab"));
    await writeHead(server, bytes("cd"), "byob");
    const writer = server.writable.getWriter(); // throws if still locked
    writer.releaseLock();
    const buf = new Uint8Array(4);
    let n = 0;
    for (let i = 0; i < 4 && n < 4; i++) {
      n += (await client.read(buf.subarray(n))) ?? 0;
    }
    assertEquals(new TextDecoder().decode(buf), "abcd");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("readRequest() refuses bare LF line endings with 400 as soon as the head ends, at every split", async () => {
  const lf = REQUEST.replaceAll("\r\n", "\n");
  const lastLine = REQUEST.slice(0, -2) + "\n"; // only the blank line is a bare LF
  const middle = REQUEST.replace(
    "Host: example.com\r\n",
    "Host: example.com\n",
  );
  for (const request of [lf, lastLine, middle]) {
    const data = bytes(request);
    for (let i = 1; i < data.length; i++) {
      // The stream stays open after the head: a refusal that waited for more
      // bytes would never come, and this read would hang instead.
      const { readable, writable } = new TransformStream<
        Uint8Array,
        Uint8Array
      >();
      const writer = writable.getWriter();
      writer.write(data.slice(0, i));
      writer.write(data.slice(i));
      const err = await readRequest(
        new ByteSource({ readable, writable: new WritableStream() }, 8192),
      ).catch((e) => e);
      assertStatus(err, HttpStatus.BadRequest);
      assert(String(err.message).includes("LF"), err.message);
      writer.releaseLock();
    }
  }
});

Deno.test("readResponse() refuses a bare LF response as an invalid answer (status 0)", async () => {
  const transport = chunked([
    bytes("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n"),
  ]);
  const err = await readResponse(new ByteSource(transport, 8192)).catch((e) =>
    e
  );
  assertStatus(err, 0);
});
