/**
 * Reading from a loopback `Deno.Conn`: `conn.read()` into a preallocated buffer
 * against a BYOB stream reader (which transfers the buffer, so the view is rebound
 * after each read) and a default stream reader, then the same through the
 * library's `ByteSource` and a whole `Conn` in both read modes.
 *
 * Each iteration moves 1 MiB: the peer writes it in 64 KiB writes while the
 * reader under test takes it in reads of at most the buffer size.
 *
 * @module
 */

import { Conn, ReadLimit } from "../../mod.ts";
import { ByteSource } from "../../src/io/transport.ts";
import { bench } from "./_bench.ts";
import {
  BENCH_KEY,
  encodeFrame,
  FIN,
  Op,
  randomBytes,
  repeat,
} from "../_frames.ts";

const TOTAL = 1 << 20;
const WRITE = 65536;
const payload = randomBytes(WRITE);

async function tcpPair(): Promise<
  { client: Deno.TcpConn; server: Deno.TcpConn }
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return { client, server };
}

/** Writes `bytes` (default: 1 MiB of `payload`) to `conn`. */
async function pump(conn: Deno.Conn, bytes?: Uint8Array): Promise<void> {
  if (bytes !== undefined) {
    for (let at = 0; at < bytes.length;) {
      at += await conn.write(bytes.subarray(at));
    }
    return;
  }
  for (let sent = 0; sent < TOTAL; sent += WRITE) {
    for (let at = 0; at < WRITE;) at += await conn.write(payload.subarray(at));
  }
}

type Reader = (
  pair: { client: Deno.TcpConn; server: Deno.TcpConn },
  size: number,
) => () => Promise<void>;

const READERS: { name: string; make: Reader }[] = [
  {
    name: "Deno.Conn.read",
    make({ server }, size) {
      const buf = new Uint8Array(size);
      return async () => {
        for (let got = 0; got < TOTAL;) {
          got += (await server.read(buf)) ?? TOTAL;
        }
      };
    },
  },
  {
    name: "BYOB reader",
    make({ server }, size) {
      const reader = server.readable.getReader({ mode: "byob" });
      let buf = new Uint8Array(size);
      return async () => {
        for (let got = 0; got < TOTAL;) {
          const { value, done } = await reader.read(buf);
          if (done || value === undefined) break;
          got += value.byteLength;
          buf = new Uint8Array(value.buffer);
        }
      };
    },
  },
  {
    name: "default reader + copy",
    make({ server }, size) {
      // The stream allocates its own chunks; every byte is copied out in pieces
      // of the buffer size, as a reader with a fixed buffer would.
      const reader = server.readable.getReader();
      const buf = new Uint8Array(size);
      return async () => {
        for (let got = 0; got < TOTAL;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (let at = 0; at < value.length; at += size) {
            buf.set(value.subarray(at, Math.min(at + size, value.length)));
          }
          got += value.length;
        }
      };
    },
  },
  {
    name: "ByteSource auto",
    make({ server }, size) {
      const source = new ByteSource(server, size, "auto");
      return async () => {
        for (let got = 0; got < TOTAL;) got += (await source.read(0)) || TOTAL;
      };
    },
  },
  {
    name: "ByteSource byob",
    make({ server }, size) {
      const source = new ByteSource(server, size, "byob");
      return async () => {
        for (let got = 0; got < TOTAL;) got += (await source.read(0)) || TOTAL;
      };
    },
  },
];

for (const size of [4096, 65536]) {
  for (const { name, make } of READERS) {
    const pair = await tcpPair();
    const read = make(pair, size);
    bench({
      name: `${name} ${size >> 10} KiB buffer`,
      group: `read 1 MiB in ${size >> 10} KiB reads`,
      baseline: name === "Deno.Conn.read",
      async fn() {
        await Promise.all([pump(pair.client), read()]);
      },
    });
  }
}

// Whole messages: 64 masked 16 KiB frames per iteration through a server Conn.
const FRAMES = 64;
const frames = repeat(
  encodeFrame(FIN | Op.Binary, randomBytes(16384), BENCH_KEY),
  FRAMES,
);
for (const mode of ["auto", "byob"] as const) {
  const pair = await tcpPair();
  const conn = new Conn(pair.server, {
    role: "server",
    read: mode,
    readLimit: ReadLimit.Small,
  });
  const buf = new Uint8Array(16384);
  bench({
    name: `Conn.readMessage(buf) read: "${mode}"`,
    group: "readMessage 64 x 16 KiB over loopback",
    baseline: mode === "auto",
    async fn() {
      const reading = (async () => {
        for (let i = 0; i < FRAMES; i++) await conn.readMessage(buf);
      })();
      await Promise.all([pump(pair.client, frames), reading]);
    },
  });
}
