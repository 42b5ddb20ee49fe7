/**
 * A TCP proxy on loopback that counts the bytes going each way, so a matrix
 * cell can tell from the wire whether messages really were compressed: a side
 * that negotiates permessage-deflate and then sends everything uncompressed
 * would otherwise go unnoticed.
 *
 * @module
 */

/** Bytes seen so far in each direction. */
export interface WireCount {
  /** From the client to the server. */
  up: number;
  /** From the server to the client. */
  down: number;
}

/** A running counting proxy. */
export interface CountingProxy {
  /** The `ws://` base URL that reaches the target through the proxy. */
  readonly url: string;
  /** The bytes relayed so far. */
  readonly count: WireCount;
  /** Stops listening and closes every relayed connection. */
  close(): Promise<void>;
}

/** Relays `from` to `to` until `from` ends, counting; then half-closes `to`. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  add: (n: number) => void,
): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      add(n);
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
    await to.closeWrite();
  } catch {
    // One side went away: the other is closed below.
  }
}

/**
 * Starts a proxy on 127.0.0.1 in front of `target` (a `ws://` or `wss://` URL
 * on 127.0.0.1). TLS passes through untouched, so the proxy's URL keeps the
 * scheme and the certificate still matches.
 */
export function startProxy(target: string): CountingProxy {
  const { hostname, port, protocol } = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const count: WireCount = { up: 0, down: 0 };
  const open = new Set<Deno.Conn>();
  const relays: Promise<void>[] = [];
  const relay = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname, port: Number(port) });
    } catch {
      client.close();
      return;
    }
    open.add(client);
    open.add(server);
    await Promise.all([
      pump(client, server, (n) => count.up += n),
      pump(server, client, (n) => count.down += n),
    ]);
    for (const c of [client, server]) {
      if (open.delete(c)) c.close();
    }
  };
  const loop = (async () => {
    for await (const client of listener) relays.push(relay(client));
  })().catch(() => {});
  return {
    url: `${protocol}//127.0.0.1:${listener.addr.port}`,
    count,
    async close() {
      listener.close();
      await loop;
      for (const c of open) c.close();
      open.clear();
      await Promise.all(relays);
    },
  };
}
