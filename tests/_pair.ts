/**
 * Test fixtures: loopback TCP pairs and hand-made frames.
 *
 * @module
 */

import { Conn, type ConnOptions } from "../mod.ts";

/** Two ends of a loopback TCP connection. */
export interface TcpPair {
  client: Deno.TcpConn;
  server: Deno.TcpConn;
}

/** Opens a TCP connection to ourselves on 127.0.0.1 and returns both ends. */
export async function tcpPair(): Promise<TcpPair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  listener.close();
  return { client, server };
}

/** A client and a server `Conn` over one loopback TCP connection. */
export async function connPair(
  options: Partial<ConnOptions> = {},
  serverOptions: Partial<ConnOptions> = {},
  clientOptions: Partial<ConnOptions> = {},
): Promise<{ client: Conn; server: Conn; tcp: TcpPair }> {
  const tcp = await tcpPair();
  return {
    client: new Conn(tcp.client, {
      ...options,
      ...clientOptions,
      role: "client",
    }),
    server: new Conn(tcp.server, {
      ...options,
      ...serverOptions,
      role: "server",
    }),
    tcp,
  };
}

/** Builds one frame by hand, masked with `mask` when given. */
export function frame(
  first: number,
  payload: Uint8Array | string,
  mask: number[] | null = [1, 2, 3, 4],
  lengthForm?: 7 | 16 | 64,
): Uint8Array {
  const data = typeof payload === "string"
    ? new TextEncoder().encode(payload)
    : payload;
  const n = data.length;
  const form = lengthForm ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const head: number[] = [first];
  const m = mask === null ? 0 : 0x80;
  if (form === 7) head.push(m | n);
  else if (form === 16) head.push(m | 126, n >>> 8, n & 0xff);
  else {
    const hi = Math.floor(n / 2 ** 32);
    head.push(
      m | 127,
      hi >>> 24,
      (hi >>> 16) & 0xff,
      (hi >>> 8) & 0xff,
      hi & 0xff,
    );
    head.push(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (mask !== null) head.push(...mask);
  const out = new Uint8Array(head.length + n);
  out.set(head);
  for (let i = 0; i < n; i++) {
    out[head.length + i] = mask === null ? data[i] : data[i] ^ mask[i & 3];
  }
  return out;
}

/** Reads from a raw connection until `n` bytes arrived or the peer closed. */
export async function readBytes(
  conn: Deno.Conn,
  n: number,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  while (got < n && Date.now() < deadline) {
    const r = await conn.read(out.subarray(got));
    if (r === null) break;
    got += r;
  }
  return out.subarray(0, got);
}

/** Reads from a raw connection until it ends; returns everything read. */
export async function readToEnd(
  conn: Deno.Conn,
  timeoutMs = 5000,
): Promise<{ bytes: Uint8Array; ended: boolean }> {
  const chunks: number[] = [];
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + timeoutMs;
  let ended = false;
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), deadline - Date.now());
      }),
    ]);
    clearTimeout(timer);
    if (r === "timeout") break;
    if (r === null) {
      ended = true;
      break;
    }
    for (let i = 0; i < r; i++) chunks.push(buf[i]);
  }
  return { bytes: new Uint8Array(chunks), ended };
}

/** A frame parsed from raw bytes by {@linkcode parseFrames}. */
export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Parses every complete frame in `bytes`, unmasking payloads. */
export function parseFrames(bytes: Uint8Array): RawFrame[] {
  const frames: RawFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const b0 = bytes[at], b1 = bytes[at + 1];
    let length = b1 & 0x7f;
    let i = at + 2;
    if (length === 126) {
      length = (bytes[i] << 8) | bytes[i + 1];
      i += 2;
    } else if (length === 127) {
      length = Number(
        new DataView(bytes.buffer, bytes.byteOffset + i, 8).getBigUint64(0),
      );
      i += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.slice(i, i + 4) : null;
    if (masked) i += 4;
    if (i + length > bytes.length) break;
    const payload = bytes.slice(i, i + length);
    if (key) { for (let j = 0; j < length; j++) payload[j] ^= key[j & 3]; }
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0xf,
      masked,
      payload,
    });
    at = i + length;
  }
  return frames;
}

/** The close code in a close frame's payload, or 1005 when it has none. */
export function closeCodeOf(frame: RawFrame | undefined): number | undefined {
  if (frame === undefined || frame.opcode !== 0x8) return undefined;
  return frame.payload.length >= 2
    ? (frame.payload[0] << 8) | frame.payload[1]
    : 1005;
}
