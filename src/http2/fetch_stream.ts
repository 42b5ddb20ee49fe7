/**
 * Ordinary HTTP/2 requests answered by a `Deno.serve`-style `fetch` handler, on
 * the stream API of `node:http2`.
 *
 * @module
 */

import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { fieldsOf } from "./extended_connect.ts";

/** A `Deno.serve`-style handler. */
export type FetchHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Response fields HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Runs `fetch` on one HTTP/2 request and streams its response back, with flow
 * control as backpressure. The request's body is streamed to the handler, and
 * its `signal` aborts when the stream closes before the response is complete.
 * A handler that throws gets the client a 500, and the error is rethrown.
 *
 * @example
 * ```ts ignore
 * import { answerFetch } from "./fetch_stream.ts";
 *
 * declare const server: import("node:http2").Http2Server;
 * server.on("stream", (stream, headers) => {
 *   answerFetch(stream, headers, () => new Response("hello")).catch(console.error);
 * });
 * ```
 *
 * @param stream The request's stream.
 * @param headers Its header block.
 * @param fetch The handler.
 */
export async function answerFetch(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  fetch: FetchHandler,
): Promise<void> {
  const gone = new AbortController();
  let completed!: () => void;
  stream.once("close", () => {
    if (!stream.writableFinished) gone.abort();
    completed();
  });
  const socket = stream.session?.socket;
  const info: Deno.ServeHandlerInfo<Deno.NetAddr> = {
    remoteAddr: {
      transport: "tcp",
      hostname: socket?.remoteAddress ?? "",
      port: socket?.remotePort ?? 0,
    },
    completed: new Promise((resolve) => completed = resolve),
  };
  let response: Response;
  try {
    response = await fetch(toRequest(stream, headers, gone.signal), info);
  } catch (err) {
    if (!stream.headersSent && !stream.closed) {
      stream.respond({ ":status": 500, "content-type": "text/plain" });
      stream.end("Internal Server Error");
    } else stream.close();
    throw err;
  }
  await writeResponse(stream, response, headers[":method"] === "HEAD");
}

/** The `Request` a `Deno.serve` handler would see for an HTTP/2 request. */
function toRequest(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  signal: AbortSignal,
): Request {
  const scheme = headers[":scheme"] ?? "http";
  const authority = headers[":authority"] ?? headers.host ?? "localhost";
  const url = new URL(headers[":path"] ?? "/", `${scheme}://${authority}`);
  const method = headers[":method"] ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD" &&
    !stream.readableEnded;
  return new Request(url, {
    method,
    headers: fieldsOf(headers),
    signal,
    body: hasBody
      ? ReadableStream.from(stream as AsyncIterable<Uint8Array>)
      : null,
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

async function writeResponse(
  stream: ServerHttp2Stream,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  if (stream.closed) {
    await response.body?.cancel();
    return;
  }
  const block: Record<string, string | string[] | number> = {
    ":status": response.status,
  };
  for (const [name, value] of response.headers) {
    if (!CONNECTION_FIELDS.has(name) && name !== "set-cookie") {
      block[name] = value;
    }
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) block["set-cookie"] = cookies;
  const empty = response.body === null || headOnly;
  stream.respond(block, { endStream: empty });
  if (empty) {
    await response.body?.cancel();
    return;
  }
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || stream.closed) break;
      if (!stream.write(value)) await drained(stream);
    }
  } finally {
    if (stream.closed) await reader.cancel().catch(() => {});
    reader.releaseLock();
    if (!stream.closed) stream.end();
  }
}

/** Waits until the stream can take more, or is gone. */
function drained(stream: ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
