import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { Conn, OpCode, Rsv } from "../../mod.ts";
import { wrapDeflate, zlibEngine } from "../../deflate.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { wrapNegotiated } from "../../src/deflate/wrap.ts";
import { tcpPair } from "../_pair.ts";
import { dec } from "../_wire.ts";

const AGREED = "permessage-deflate; server_no_context_takeover";

Deno.test("wrapDeflate: parameters from the agreement, options from the caller, over TCP", async () => {
  const tcp = await tcpPair();
  const server = wrapDeflate(
    new Conn(tcp.server, {
      role: "server",
      rsvAllowed: Rsv.Rsv1,
      extensions: AGREED,
    }),
    { engine: zlibEngine(), level: 9 },
  );
  const client = wrapDeflate(
    new Conn(tcp.client, {
      role: "client",
      rsvAllowed: Rsv.Rsv1,
      extensions: AGREED,
    }),
  );
  assertEquals(
    (server as PerMessageDeflateConn).params.serverNoContextTakeover,
    true,
  );
  const text = "compress me ".repeat(40);
  await server.writeMessage(OpCode.Text, text);
  const msg = await client.readMessage();
  assertEquals([msg.rsv, dec(msg.data)], [Rsv.Rsv1, text]);
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
});

Deno.test("wrapDeflate refuses a connection that cannot carry compressed frames", async () => {
  const tcp = await tcpPair();
  // Built without RSV1: the base itself would refuse the peer's compressed frames.
  const plain = new Conn(tcp.server, { role: "server" });
  assertThrows(() => wrapDeflate(plain), TypeError, "rsvAllowed");
  // The agreement is known and names another extension.
  const other = new Conn(tcp.server, {
    role: "server",
    rsvAllowed: Rsv.Rsv1,
    extensions: "x-webkit-deflate-frame",
  });
  assertThrows(() => wrapDeflate(other), TypeError, "not permessage-deflate");
  // Nothing was written: the peer sees no RSV1 frame, only the end.
  plain.abort();
  const buf = new Uint8Array(16);
  assertEquals(await tcp.client.read(buf), null);
  tcp.client.close();
});

Deno.test("wrapNegotiated wraps only what the handshake agreed on", async () => {
  const tcp = await tcpPair();
  const agreed = new Conn(tcp.server, {
    role: "server",
    rsvAllowed: Rsv.Rsv1,
    extensions: AGREED,
  });
  assert(wrapNegotiated(agreed) instanceof PerMessageDeflateConn);
  const plain = new Conn(tcp.client, { role: "client" });
  assertStrictEquals(wrapNegotiated(plain), plain);
  agreed.abort();
  plain.abort();
});
