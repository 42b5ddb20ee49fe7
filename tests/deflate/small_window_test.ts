/**
 * The default engine and small windows, over loopback: a server or client that
 * takes the defaults (`deflate: true`) accepts every valid window offer and
 * compresses on the wire, keeping a window under 15 bits with zlib for that
 * connection.
 */

import { assertEquals } from "@std/assert";
import { accept, dial, OpCode, Rsv, type WebSocketConn } from "../../mod.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import type { AcceptOptions } from "../../src/handshake/accept.ts";
import type { DialOptions } from "../../src/handshake/dial.ts";

/** Accepts one connection with `server` options while dialling with `client`. */
async function pair(
  server: AcceptOptions,
  client: DialOptions,
): Promise<{ server: WebSocketConn; client: WebSocketConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [s, c] = await Promise.all([
      listener.accept().then((tcp) => accept(tcp, server)),
      dial(`ws://127.0.0.1:${listener.addr.port}/`, client),
    ]);
    return { server: s, client: c };
  } finally {
    listener.close();
  }
}

/**
 * 40 KiB whose second half repeats the first 20 KiB back: a 15-bit window
 * refers to it, a smaller one cannot, so an inflater kept to the agreed window
 * fails on output made with a larger one.
 */
function farRepeat(): Uint8Array {
  const half = new Uint8Array(20 * 1024);
  for (let i = 0; i < half.length; i += 65536) {
    crypto.getRandomValues(half.subarray(i, i + 65536));
  }
  const whole = new Uint8Array(half.length * 2);
  whole.set(half);
  whole.set(half, half.length);
  return whole;
}

/** Messages both ways, twice (context takeover too), compressed on the wire. */
async function roundTrips(
  server: WebSocketConn,
  client: WebSocketConn,
): Promise<void> {
  const data = farRepeat();
  const text = JSON.stringify({ items: Array(200).fill("small windows") });
  for (let i = 0; i < 2; i++) {
    await server.writeMessage(OpCode.Binary, data);
    const down = await client.readMessage();
    assertEquals([down.rsv, down.data], [Rsv.Rsv1, data]);
    await client.writeMessage(OpCode.Text, text);
    const up = await server.readMessage();
    assertEquals(up.rsv, Rsv.Rsv1);
    assertEquals(new TextDecoder().decode(up.data), text);
  }
  await Promise.all([client.close(), server.readMessage().catch(() => {})]);
  await Promise.all([client.closed, server.closed]);
}

Deno.test("default engine: a server with deflate: true takes server_max_window_bits 8-14", async () => {
  for (let bits = 8; bits <= 14; bits++) {
    const { server, client } = await pair({ deflate: true }, {
      deflate: { engine: zlibEngine(), serverMaxWindowBits: bits },
    });
    const agreed = `permessage-deflate; server_max_window_bits=${bits}`;
    assertEquals([server.extensions, client.extensions], [agreed, agreed]);
    await roundTrips(server, client);
  }
});

Deno.test("default engine: client_max_window_bits offers, with and without a value", async () => {
  for (let bits = 8; bits <= 15; bits++) {
    const { server, client } = await pair({ deflate: true }, {
      deflate: { engine: zlibEngine(), clientMaxWindowBits: bits },
    });
    const agreed = `permessage-deflate; client_max_window_bits=${bits}`;
    assertEquals([server.extensions, client.extensions], [agreed, agreed]);
    await roundTrips(server, client);
  }
  // A server that asks for a small client window, of a client that offers one.
  const { server, client } = await pair(
    { deflate: { clientMaxWindowBits: 9 } },
    { deflate: { engine: zlibEngine() } },
  );
  const agreed = "permessage-deflate; client_max_window_bits=9";
  assertEquals([server.extensions, client.extensions], [agreed, agreed]);
  await roundTrips(server, client);
});

Deno.test("default engine on both sides: small windows either way, and both at once", async () => {
  const cases: [AcceptOptions, DialOptions, string][] = [
    [
      { deflate: true },
      { deflate: { serverMaxWindowBits: 10 } },
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      { deflate: { serverMaxWindowBits: 11 } },
      { deflate: true },
      "permessage-deflate; server_max_window_bits=11",
    ],
    [
      { deflate: true },
      { deflate: { clientMaxWindowBits: 9 } },
      "permessage-deflate; client_max_window_bits=9",
    ],
    [
      { deflate: { serverNoContextTakeover: true } },
      { deflate: { serverMaxWindowBits: 8, clientMaxWindowBits: 12 } },
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=12",
    ],
  ];
  for (const [serverOptions, clientOptions, agreed] of cases) {
    const { server, client } = await pair(serverOptions, clientOptions);
    assertEquals([server.extensions, client.extensions], [agreed, agreed]);
    await roundTrips(server, client);
  }
});
