/**
 * The peer server the faces' behaviour suites talk to: this module's `serve` on
 * 127.0.0.1 with compression, scripted by path.
 *
 * | path | does |
 * | --- | --- |
 * | `/echo` | echoes every message, as text or binary |
 * | `/close?code=C&reason=R` | closes at once with that code and reason |
 * | `/drop` | drops the TCP connection without a close frame |
 * | `/burst?n=N` | sends N text messages `"0"`… then waits for the client to close |
 * | `/reject` | refuses the handshake with 403 |
 *
 * Every close code received from a client is kept in `closes`.
 *
 * @module
 */

import {
  CloseError,
  OpCode,
  Rejection,
  serve,
  type WebSocketServer,
} from "../../mod.ts";

/** A running peer. */
export interface Peer extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT`, without a path. */
  readonly url: string;
  /** The close codes and reasons received from clients, in order. */
  readonly closes: { code: number; reason: string }[];
  /** The server. */
  readonly server: WebSocketServer;
}

/** Starts the peer on a free port. */
export function startPeer(): Peer {
  const closes: { code: number; reason: string }[] = [];
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    deflate: true,
    protocols: ["chat", "superchat"],
    onListen() {},
    onError() {},
    onRequest(req) {
      if (req.target.startsWith("/reject")) throw new Rejection(403);
    },
  }, async (conn, req) => {
    const url = new URL(req.target, "ws://peer");
    const q = url.searchParams;
    switch (url.pathname) {
      case "/close":
        await conn.close(Number(q.get("code")), q.get("reason") ?? "");
        return;
      case "/drop":
        conn.abort();
        return;
      case "/burst":
        for (let i = 0; i < Number(q.get("n")); i++) {
          await conn.writeMessage(OpCode.Text, String(i));
        }
    }
    try {
      for (;;) {
        const msg = await conn.readMessage();
        if (url.pathname === "/echo") {
          await conn.writeMessage(msg.opcode, msg.data);
        }
      }
    } catch (err) {
      if (err instanceof CloseError) {
        closes.push({ code: err.code, reason: err.reason });
      }
    }
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    closes,
    server,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
