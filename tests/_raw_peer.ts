/**
 * A peer played by hand over an in-memory pipe: the `Deno.Conn` methods a test
 * uses on the raw end of a {@linkcode tcpPair} (`read`, `write`, `close`), over
 * one end of a {@linkcode memoryTransportPair}, so the same test body runs
 * without a socket.
 *
 * @example A server `Conn` answering a hand-written ping
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Conn } from "../mod.ts";
 * import { frame, parseFrames, readBytes } from "./_pair.ts";
 * import { rawPair } from "./_raw_peer.ts";
 *
 * const { peer, transport } = rawPair();
 * const server = new Conn(transport, { role: "server" });
 * const reading = server.readMessage().catch(() => {});
 * await peer.write(frame(0x89, "hi"));
 * assertEquals(parseFrames(await readBytes(peer, 4))[0].opcode, 0xa);
 * server.abort();
 * await reading;
 * peer.close();
 * ```
 *
 * @module
 */

import { type MemoryTransport, memoryTransportPair } from "./_pair.ts";

/**
 * Wraps a memory transport's streams in `read`, `write` and `close` that behave
 * like a socket's: `read` fills the caller's array (which stays attached) and
 * resolves `null` at the end; `write` waits while the other end has a full
 * buffer unread and fails once that end is closed.
 *
 * It keeps the transport's `readable` and `writable` (usable until the first
 * `read` or `write` takes them), so a `Conn` can run over it too: with `read`
 * and `write` present it reads directly, as it does on a `Deno.Conn`.
 *
 * Typed as a `Deno.Conn` so the `_pair.ts` readers take it; only those
 * members exist.
 */
export function rawPeer(transport: MemoryTransport): Deno.Conn {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let leftover: Uint8Array | null = null;
  const peer = {
    readable: transport.readable,
    writable: transport.writable,
    async read(p: Uint8Array): Promise<number | null> {
      let chunk = leftover;
      leftover = null;
      if (chunk === null) {
        reader ??= transport.readable.getReader();
        const { value, done } = await reader.read();
        if (done) return null;
        chunk = value;
      }
      const n = Math.min(chunk.length, p.length);
      p.set(chunk.subarray(0, n));
      if (n < chunk.length) leftover = chunk.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      writer ??= transport.writable.getWriter();
      await writer.write(p);
      return p.length;
    },
    close(): void {
      transport.close();
      reader?.cancel().catch(() => {});
    },
  };
  return peer as unknown as Deno.Conn;
}

/**
 * A raw peer and the transport for the `Conn` under test, joined in memory.
 *
 * @param highWaterMark Bytes a direction holds unread before writes wait; 64
 *   KiB by default, more for a test that writes a lot before reading.
 */
export function rawPair(
  highWaterMark?: number,
): { peer: Deno.Conn; transport: MemoryTransport } {
  const { client, server } = memoryTransportPair(highWaterMark);
  return { peer: rawPeer(client), transport: server };
}
