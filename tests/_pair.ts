/**
 * Test fixtures: connection pairs, in memory or over loopback TCP, and
 * hand-made frames.
 *
 * - {@linkcode memoryConnPair}: a client and a server `Conn` joined by in-memory
 *   byte streams; no sockets, no permissions. The default for unit tests.
 * - {@linkcode memoryTransportPair}: the two raw ends, for a test that plays the
 *   peer by hand (writes frames, reads what the `Conn` sent).
 * - {@linkcode tcpPair} / {@linkcode connPair}: the same over a real loopback TCP
 *   connection (needs `--allow-net`), for what only a socket shows.
 * - {@linkcode frame}, {@linkcode readBytes}, {@linkcode readToEnd}, and
 *   `parseFrames` / `closeCodeOf` from the wire toolkit (`./_wire.ts`).
 *
 * @example A message through an in-memory pair
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { OpCode } from "../mod.ts";
 * import { memoryConnPair } from "./_pair.ts";
 * import { dec } from "./_wire.ts";
 *
 * const { client, server } = memoryConnPair();
 * await client.writeMessage(OpCode.Text, "hi");
 * assertEquals(dec((await server.readMessage()).data), "hi");
 * await Promise.all([client.close(), server.close()]);
 * ```
 *
 * @module
 */

import { Conn, type ConnOptions, type Transport } from "../mod.ts";
import { concat, concatAll, encodeFrame, type ParsedFrame } from "./_wire.ts";

export { closeCodeOf, parseFrames } from "./_wire.ts";

/** A frame parsed from raw bytes by `parseFrames` (the wire toolkit's {@linkcode ParsedFrame}). */
export type RawFrame = ParsedFrame;

/** The options of both ends of a pair, and of each end. */
export type PairOptions = Partial<ConnOptions>;

/**
 * One end of an in-memory pipe: a byte stream in (BYOB reads work) and a stream
 * out, with TCP's manners. What one end writes the other reads, in order; a
 * write waits while the peer has `highWaterMark` bytes unread; closing ends the
 * peer's reads (end of stream) and fails the peer's later writes.
 */
export class MemoryTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #in: Pipe;
  #out: Pipe;
  /** Whether {@linkcode close} was called. */
  closed = false;

  constructor(incoming: Pipe, outgoing: Pipe) {
    this.#in = incoming;
    this.#out = outgoing;
    this.readable = incoming.readable;
    this.writable = outgoing.writable;
  }

  /** Closes both directions, as closing a socket does. */
  close(): void {
    this.closed = true;
    this.#out.end();
    this.#in.shut();
  }
}

/** One direction of a {@linkcode MemoryTransport} pair. */
class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #controller!: ReadableByteStreamController;
  #room: (() => void) | null = null;
  #ended = false;
  #readerGone = false;

  constructor(highWaterMark: number) {
    this.readable = new ReadableStream({
      type: "bytes",
      start: (c) => {
        this.#controller = c;
      },
      pull: () => this.#wake(),
      cancel: () => {
        this.#ended = this.#readerGone = true;
        this.#wake();
      },
    }, { highWaterMark });
    this.writable = new WritableStream({
      write: async (chunk) => {
        if (this.#readerGone || this.#ended) {
          throw new Deno.errors.BrokenPipe("The other end is closed");
        }
        if (chunk.length === 0) return;
        this.#controller.enqueue(new Uint8Array(chunk)); // a copy: the writer may reuse its buffer
        while (!this.#ended && (this.#controller.desiredSize ?? 0) <= 0) {
          await new Promise<void>((resolve) => this.#room = resolve);
        }
      },
      close: () => this.end(),
      abort: () => this.end(),
    });
  }

  /** Ends the stream: the reader gets what is queued, then the end. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#controller.close();
    // A pending BYOB read settles only once its request is answered.
    this.#controller.byobRequest?.respond(0);
    this.#wake();
  }

  /** Ends the stream and refuses further writes: the reading end went away. */
  shut(): void {
    this.#readerGone = true;
    this.end();
  }

  #wake(): void {
    this.#room?.();
    this.#room = null;
  }
}

/** The two raw ends of an in-memory connection. */
export interface MemoryTransportPair {
  client: MemoryTransport;
  server: MemoryTransport;
}

/**
 * Two connected {@linkcode MemoryTransport}s: what `client` writes `server`
 * reads, and the other way round.
 *
 * @param highWaterMark Bytes a direction holds unread before writes wait (like a
 *   socket buffer); 64 KiB by default.
 */
export function memoryTransportPair(
  highWaterMark = 65536,
): MemoryTransportPair {
  const up = new Pipe(highWaterMark);
  const down = new Pipe(highWaterMark);
  return {
    client: new MemoryTransport(down, up),
    server: new MemoryTransport(up, down),
  };
}

/**
 * A client and a server `Conn` joined in memory: no sockets, no permissions,
 * no ports. Options apply in the order `options`, then the side's own, then the
 * role.
 *
 * @param options For both ends.
 * @param serverOptions For the server end only.
 * @param clientOptions For the client end only.
 * @returns both `Conn`s and the transports under them
 */
export function memoryConnPair(
  options: PairOptions = {},
  serverOptions: PairOptions = {},
  clientOptions: PairOptions = {},
): { client: Conn; server: Conn; transports: MemoryTransportPair } {
  const transports = memoryTransportPair();
  return {
    client: new Conn(transports.client, {
      ...options,
      ...clientOptions,
      role: "client",
    }),
    server: new Conn(transports.server, {
      ...options,
      ...serverOptions,
      role: "server",
    }),
    transports,
  };
}

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

/**
 * Builds one frame by hand from its first byte (FIN, RSV and opcode bits), masked
 * with `mask` when given; a shorthand for {@linkcode encodeFrame}.
 */
export function frame(
  first: number,
  payload: Uint8Array | string,
  mask: number[] | null = [1, 2, 3, 4],
  lengthForm?: 7 | 16 | 64,
): Uint8Array {
  return encodeFrame({
    fin: (first & 0x80) !== 0,
    rsv: first & 0x70,
    opcode: first & 0x0f,
    payload,
    mask: mask ?? undefined,
    lengthForm,
  });
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
  const chunks: Uint8Array[] = [];
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
    chunks.push(buf.slice(0, r));
  }
  return { bytes: concatAll(chunks), ended };
}

/**
 * Reads one end of an in-memory pair until the other end closes or `timeoutMs`
 * passes, like {@linkcode readToEnd} for a socket.
 */
export async function readStreamToEnd(
  transport: { readable: ReadableStream<Uint8Array> },
  timeoutMs = 5000,
): Promise<{ bytes: Uint8Array; ended: boolean }> {
  const reader = transport.readable.getReader();
  const chunks: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  let ended = false;
  try {
    for (let i = 0; i < 100_000; i++) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === "timeout") break;
      if (r.done) {
        ended = true;
        break;
      }
      chunks.push(r.value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { bytes: concat(...chunks), ended };
}

/** A `Deno.Conn` whose reads and writes are counted. */
export class CountingConn implements Transport {
  reads = 0;
  writes = 0;
  /** The length of each write, in order. */
  readonly written: number[] = [];
  readonly #tcp: Deno.Conn;
  constructor(tcp: Deno.Conn) {
    this.#tcp = tcp;
  }
  get readable(): ReadableStream<Uint8Array> {
    return this.#tcp.readable;
  }
  get writable(): WritableStream<Uint8Array> {
    return this.#tcp.writable;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    return this.#tcp.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    this.writes++;
    this.written.push(p.length);
    return this.#tcp.write(p);
  }
  close(): void {
    this.#tcp.close();
  }
}
