/**
 * The client half of the opening handshake on a raw socket, for the load
 * generators: one fixed request, the 101 checked, leftover bytes returned.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const END_OF_HEAD = [13, 10, 13, 10];
const MAX_HEAD = 16 * 1024;

/** What the server answered: its extension agreement and bytes after the head. */
export interface Upgraded {
  /** The `Sec-WebSocket-Extensions` value of the answer, or `""`. */
  extensions: string;
  /** Bytes that followed the response head: the start of the frame stream. */
  head: Uint8Array;
}

/**
 * Sends an upgrade request on `conn` and reads the answer.
 *
 * @param conn A fresh TCP connection to the server.
 * @param host The `Host` header value.
 * @param extensions A `Sec-WebSocket-Extensions` offer, or `""` for none.
 * @throws {Error} When the server does not answer 101.
 */
export async function upgrade(
  conn: Deno.Conn,
  host: string,
  extensions = "",
): Promise<Upgraded> {
  const offer = extensions === ""
    ? ""
    : `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  const request = "GET / HTTP/1.1\r\n" +
    `Host: ${host}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    `Sec-WebSocket-Version: 13\r\n${offer}\r\n`;
  const bytes = encoder.encode(request);
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
  const buf = new Uint8Array(MAX_HEAD);
  let filled = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(filled));
    if (n === null) throw new Error("Connection closed during the handshake");
    filled += n;
    const end = indexOfEnd(buf, filled);
    if (end < 0) {
      if (filled === buf.length) throw new Error("Response head too large");
      continue;
    }
    const head = decoder.decode(buf.subarray(0, end));
    if (!/^HTTP\/1\.1 101/.test(head)) {
      throw new Error(`Upgrade refused: ${head.split("\r\n")[0]}`);
    }
    const match = /^sec-websocket-extensions:\s*(.*)$/im.exec(head);
    return {
      extensions: match?.[1].trim() ?? "",
      head: buf.slice(end + 4, filled),
    };
  }
}

function indexOfEnd(buf: Uint8Array, filled: number): number {
  outer: for (let i = 0; i + 4 <= filled; i++) {
    for (let j = 0; j < 4; j++) {
      if (buf[i + j] !== END_OF_HEAD[j]) continue outer;
    }
    return i;
  }
  return -1;
}
