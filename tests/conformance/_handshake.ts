/**
 * The HTTP/1.1 upgrade (RFC 6455 §4) in both directions over a raw TCP connection,
 * with a deadline on every read.
 *
 * @module
 */

import { dec, enc } from "../_wire.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;

/** A parsed request or response head plus the bytes that followed it. */
export interface HttpHead {
  /** The request or status line. */
  line: string;
  headers: Headers;
  /** Bytes read past the blank line: the first frames. */
  rest: Uint8Array;
}

/** The `Sec-WebSocket-Accept` value for a key. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    enc(key + GUID),
  );
  let s = "";
  for (const b of new Uint8Array(digest)) s += String.fromCharCode(b);
  return btoa(s);
}

/** Resolves with `value` or `undefined` after `ms`, clearing its timer either way. */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads an HTTP head (up to the blank line) within `timeoutMs`. */
export async function readHead(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<HttpHead> {
  const deadline = Date.now() + timeoutMs;
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    const end = findBlankLine(buf);
    if (end >= 0) {
      const text = dec(buf.subarray(0, end));
      const lines = text.split("\r\n");
      const headers = new Headers();
      for (const l of lines.slice(1)) {
        const colon = l.indexOf(":");
        if (colon > 0) {
          headers.append(l.slice(0, colon).trim(), l.slice(colon + 1).trim());
        }
      }
      return { line: lines[0], headers, rest: buf.slice(end + 4) };
    }
    if (buf.length > MAX_HEAD) throw new Error("HTTP head too long");
    const n = await withTimeout(conn.read(chunk), deadline - Date.now());
    if (n === undefined) {
      throw new Error(`no complete HTTP head within ${timeoutMs} ms`);
    }
    if (n === null) {
      throw new Error("connection closed during the HTTP handshake");
    }
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  }
}

function findBlankLine(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** What the client side of the upgrade saw. */
export interface ClientHandshake {
  status: number;
  /** The response's `Sec-WebSocket-Extensions`, or `null`. */
  extensions: string | null;
  rest: Uint8Array;
}

/**
 * Sends an upgrade request for `url` (with `early` frame bytes in the same write)
 * and checks the 101 answer (status, `Upgrade`,
 * `Connection` and `Sec-WebSocket-Accept`).
 */
export async function clientHandshake(
  conn: Deno.Conn,
  url: URL,
  offer: string | undefined,
  timeoutMs: number,
  early: Uint8Array = new Uint8Array(0),
): Promise<ClientHandshake> {
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (offer !== undefined) lines.push(`Sec-WebSocket-Extensions: ${offer}`);
  await writeAll(conn, withEarly(lines, early));
  const head = await readHead(conn, timeoutMs);
  const status = Number(head.line.split(" ")[1]);
  if (status !== 101) throw new Error(`upgrade refused: ${head.line}`);
  if (head.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new Error("response without Upgrade: websocket");
  }
  if (!/\bupgrade\b/i.test(head.headers.get("connection") ?? "")) {
    throw new Error("response without Connection: Upgrade");
  }
  if (head.headers.get("sec-websocket-accept") !== await acceptKey(key)) {
    throw new Error("wrong Sec-WebSocket-Accept");
  }
  return {
    status,
    extensions: head.headers.get("sec-websocket-extensions"),
    rest: head.rest,
  };
}

/** An upgrade request received by the harness acting as a server. */
export interface ServerRequest {
  /** The path with its query, as sent. */
  target: URL;
  key: string;
  /** The request's `Sec-WebSocket-Extensions`, or `null`. */
  extensions: string | null;
  rest: Uint8Array;
}

/** Reads and checks an upgrade request; answers 400 and throws when it is not one. */
export async function readUpgradeRequest(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<ServerRequest> {
  const head = await readHead(conn, timeoutMs);
  const [method, target] = head.line.split(" ");
  const key = head.headers.get("sec-websocket-key");
  const ok = method === "GET" && key !== null &&
    head.headers.get("upgrade")?.toLowerCase() === "websocket" &&
    head.headers.get("sec-websocket-version") === "13";
  if (!ok) {
    await writeAll(
      conn,
      enc("HTTP/1.1 400 Bad Request\r\n\r\n"),
    );
    throw new Error(`not a WebSocket upgrade: ${head.line}`);
  }
  return {
    target: new URL(target ?? "/", "ws://testee"),
    key,
    extensions: head.headers.get("sec-websocket-extensions"),
    rest: head.rest,
  };
}

/** Answers an upgrade request with 101, optionally accepting an extension, with `early` frames in the same write. */
export async function acceptUpgrade(
  conn: Deno.Conn,
  key: string,
  extensions: string | undefined,
  early: Uint8Array = new Uint8Array(0),
): Promise<void> {
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${await acceptKey(key)}`,
  ];
  if (extensions !== undefined) {
    lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  }
  await writeAll(conn, withEarly(lines, early));
}

/** The head's lines and the frames sent in the same write, right after the blank line. */
function withEarly(lines: string[], early: Uint8Array): Uint8Array {
  const head = enc(lines.join("\r\n") + "\r\n\r\n");
  const out = new Uint8Array(head.length + early.length);
  out.set(head);
  out.set(early, head.length);
  return out;
}
