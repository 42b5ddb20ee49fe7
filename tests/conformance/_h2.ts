/**
 * The harness's connections over HTTP/2 (RFC 8441): each case runs on its own
 * extended CONNECT stream of one shared h2c session, so that the suite checks a
 * server's WebSockets as HTTP/2 streams, and that a case failing its stream
 * leaves the session to the next case.
 *
 * @module
 */

import { type ClientHttp2Session, connect } from "node:http2";
import { NodeSocketTransport } from "../../src/io/node_socket.ts";
import type { ClientHandshake } from "./_handshake.ts";

let shared: { origin: string; session: Promise<ClientHttp2Session> } | null =
  null;

/** The shared session to `url`'s origin, opened (again) when there is none. */
function sessionFor(url: URL, timeoutMs: number): Promise<ClientHttp2Session> {
  const origin = `http://${url.host}`;
  if (shared?.origin === origin) return shared.session;
  const session = new Promise<ClientHttp2Session>((resolve, reject) => {
    const s = connect(origin);
    const timer = setTimeout(
      () => reject(new Error("no HTTP/2 SETTINGS in time")),
      timeoutMs,
    );
    s.on("error", (e) => reject(e));
    s.once("close", () => {
      if (shared?.session === session) shared = null;
    });
    s.once("remoteSettings", (settings) => {
      clearTimeout(timer);
      if (settings.enableConnectProtocol) resolve(s);
      else reject(new Error("the server does not advertise extended CONNECT"));
    });
  });
  shared = { origin, session };
  session.catch(() => {
    if (shared?.session === session) shared = null;
  });
  return session;
}

/** Ends the shared session, if any (at the end of a run). */
export async function closeHttp2(): Promise<void> {
  const open = shared;
  shared = null;
  const session = await open?.session.catch(() => null);
  if (!session) return;
  await new Promise((resolve) => setTimeout(resolve, 0));
  const closed = new Promise((resolve) => session.once("close", resolve));
  session.close();
  await closed;
}

/**
 * Opens a stream with an extended CONNECT for `url` (with `early` frame bytes
 * right after the request) and checks the 200 answer. The connection returned
 * reads and writes the stream's DATA; closing it resets the stream.
 */
export async function connectHttp2(
  url: URL,
  offer: string | undefined,
  timeoutMs: number,
  early: Uint8Array = new Uint8Array(0),
): Promise<{ conn: Deno.Conn; hs: ClientHandshake }> {
  const session = await sessionFor(url, timeoutMs);
  const stream = session.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": `${url.pathname}${url.search}`,
    ":authority": url.host,
    "sec-websocket-version": "13",
    ...(offer === undefined ? {} : { "sec-websocket-extensions": offer }),
  }, { endStream: false });
  stream.on("error", () => {});
  const conn = new NodeSocketTransport(stream);
  if (early.length > 0) conn.write(early).catch(() => {});
  const headers = await new Promise<Record<string, unknown>>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer")), timeoutMs);
      stream.once("response", (h) => {
        clearTimeout(timer);
        resolve(h);
      });
      stream.once("close", () => reject(new Error("stream closed")));
    },
  ).catch((e) => {
    conn.close();
    throw e;
  });
  const status = Number(headers[":status"]);
  if (status !== 200) {
    conn.close();
    throw new Error(`upgrade refused: HTTP/2 ${status}`);
  }
  const extensions = headers["sec-websocket-extensions"];
  return {
    conn: conn as unknown as Deno.Conn,
    hs: {
      status,
      extensions: typeof extensions === "string" ? extensions : null,
      rest: new Uint8Array(0),
    },
  };
}
