/**
 * Third-party proof: the `graphql-ws` client, written for the browser's
 * `WebSocket`, runs unchanged on this module's class (passed as
 * `webSocketImpl`) against `graphql-ws`'s own server on `ws`, with
 * permessage-deflate negotiated and seen on the wire (RSV1 both ways).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { createClient } from "npm:graphql-ws@6.4.2";
import { useServer } from "npm:graphql-ws@6.4.2/use/ws";
import {
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from "npm:graphql@16.11.0";
import { WebSocketServer } from "npm:ws@8.23.0";
import { WebSocket } from "../../web.ts";
import { startSniffer } from "./_sniffer.ts";

// Long enough (over 128 bytes) for our default deflate threshold.
const QUERY = `{ hello } # ${"a comment that pads the query ".repeat(8)}`;
const GREETINGS = ["Hi", "Bonjour", "Hola", "Ciao", "Zdravo"];

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      hello: { type: GraphQLString, resolve: () => "world ".repeat(50) },
    },
  }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      greetings: {
        type: GraphQLString,
        subscribe: async function* () {
          for (const hi of GREETINGS) yield { greetings: hi };
        },
      },
    },
  }),
});

Deno.test("graphql-ws's client runs on our WebSocket against its own server, compressed", async () => {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: { threshold: 0 },
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const disposer = useServer({ schema }, wss);
  const { port } = wss.address() as { port: number };
  await using sniffer = startSniffer(port);
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const client = createClient({
    url: `ws://127.0.0.1:${sniffer.port}/graphql`,
    webSocketImpl: Tracked,
    retryAttempts: 0,
    lazy: true,
  });
  try {
    const query = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe({ query: QUERY }, {
        next: (v) => value = v,
        error: reject,
        complete: () => resolve(value),
      });
    });
    assertEquals(query, { data: { hello: "world ".repeat(50) } });
    const seen: string[] = [];
    for await (
      const result of client.iterate({ query: "subscription { greetings }" })
    ) {
      seen.push((result.data as { greetings: string }).greetings);
    }
    assertEquals(seen, GREETINGS);
    // Lazy: a socket per operation here, each closed when its operation ends.
    assertEquals(sockets.length, 2);
    for (const ws of sockets) {
      assertEquals(ws.protocol, "graphql-transport-ws");
      assert(ws.extensions.startsWith("permessage-deflate"));
    }
  } finally {
    await client.dispose();
    await disposer.dispose();
    await new Promise((resolve) => wss.close(resolve));
  }
  await waitFor(() =>
    sockets.every((ws) => ws.readyState === WebSocket.CLOSED)
  );
  const { response, up, down } = sniffer.seen;
  assert(/^sec-websocket-extensions: permessage-deflate/im.test(response));
  const data = (frames: typeof up) => frames.filter((f) => f.opcode === 1);
  // From the server (threshold 0): ack, results and completes, all compressed.
  // From the client: the long query compressed, short messages under our
  // default threshold (128 bytes) not.
  assert(data(up).some((f) => f.rsv1), "a compressed client frame");
  assert(data(up).filter((f) => !f.rsv1).every((f) => f.length < 128));
  assert(
    data(down).length >= 10 && data(down).every((f) => f.rsv1),
    "server frames",
  );
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert(cond(), "condition not met within 2 s");
}
