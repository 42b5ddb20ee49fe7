/**
 * A TCP relay on 127.0.0.1 that reads the WebSocket traffic it passes: the
 * server's handshake answer, and the RSV1 bit and opcode of every frame in each
 * direction, so a test can see compression on the wire rather than trust the
 * endpoints' word for it.
 *
 * @module
 */

/** One frame seen on the wire. */
export interface SeenFrame {
  opcode: number;
  rsv1: boolean;
  length: number;
}

/** What the relay saw, per direction. */
export interface Sniffed {
  /** The server's handshake answer (the head, as text). */
  response: string;
  /** Frames from the client. */
  up: SeenFrame[];
  /** Frames from the server. */
  down: SeenFrame[];
}

/** A running relay. */
export interface Sniffer extends AsyncDisposable {
  /** The port to connect to instead of the server's. */
  readonly port: number;
  /** What was seen so far. */
  readonly seen: Sniffed;
}

const CRLF2 = new TextEncoder().encode("\r\n\r\n");

/** Parses frames out of a byte stream, after an HTTP head when `head` is set. */
class FrameScanner {
  #buf = new Uint8Array(0);
  #inHead: boolean;
  constructor(
    head: boolean,
    readonly frames: SeenFrame[],
    readonly onHead: (head: string) => void = () => {},
  ) {
    this.#inHead = head;
  }

  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    this.#buf = joined;
    if (this.#inHead) {
      const end = indexOf(this.#buf, CRLF2);
      if (end < 0) return;
      this.onHead(new TextDecoder().decode(this.#buf.subarray(0, end)));
      this.#buf = this.#buf.slice(end + 4);
      this.#inHead = false;
    }
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = (b[2] << 8) | b[3];
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(
          new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0),
        );
        off = 10;
      }
      if (b[1] & 0x80) off += 4;
      if (b.length < off + len) return;
      this.frames.push({
        opcode: b[0] & 0x0f,
        rsv1: (b[0] & 0x40) !== 0,
        length: len,
      });
      this.#buf = b.slice(off + len);
    }
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

async function relay(
  from: Deno.Conn,
  to: Deno.Conn,
  scan: FrameScanner,
): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      scan.push(buf.subarray(0, n));
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
    await to.closeWrite();
  } catch {
    // One side went away; both are closed by the caller.
  }
}

/**
 * Starts a relay to `targetPort` on 127.0.0.1 for one connection at a time
 * (each new one is scanned into the same lists).
 */
export function startSniffer(targetPort: number): Sniffer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: Sniffed = { response: "", up: [], down: [] };
  const tasks: Promise<void>[] = [];
  const open = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({
        hostname: "127.0.0.1",
        port: targetPort,
      });
      open.add(client).add(server);
      const up = new FrameScanner(true, seen.up);
      const down = new FrameScanner(true, seen.down, (h) => seen.response = h);
      tasks.push(
        Promise.all([relay(client, server, up), relay(server, client, down)])
          .then(() => {
            for (const c of [client, server]) {
              open.delete(c);
              try {
                c.close();
              } catch {
                // closed already
              }
            }
          }),
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    seen,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of open) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      await Promise.all(tasks);
    },
  };
}
