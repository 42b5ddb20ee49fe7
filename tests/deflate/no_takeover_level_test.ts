/**
 * The compression level of a side without context takeover, seen on the wire:
 * 3 by default, the `level` option when given; and text messages written at
 * once on several connections (the shared encode buffer) all arrive intact.
 */

import { assertEquals, assertNotEquals } from "@std/assert";
import { constants, deflateRawSync } from "node:zlib";
import { OpCode, Rsv } from "../../mod.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type {
  DeflateOptions,
  DeflateParams,
} from "../../src/deflate/negotiate.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { memoryConnPair } from "../_pair.ts";

const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const NONE = {
  ...PARAMS,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
};

function json(n: number, seed: number): string {
  const rows = Array.from(
    { length: n },
    (_, i) => `{"id":${i * seed % 997},"name":"item-${(i * 31 + seed) % 101}"}`,
  );
  return `[${rows.join(",")}]`;
}

/** What a message compressed alone at `level` looks like in its frame. */
function alone(text: string, level: number): Uint8Array {
  const out = deflateRawSync(new TextEncoder().encode(text), {
    level,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

/** The payload of the one frame a server with `options` writes for `text`. */
async function onTheWire(
  params: DeflateParams,
  options: DeflateOptions,
  text: string,
): Promise<Uint8Array> {
  const { client, server } = memoryConnPair({ rsvAllowed: Rsv.Rsv1 });
  const deflating = new PerMessageDeflateConn(server, params, options);
  await deflating.writeMessage(OpCode.Text, text);
  const raw = await client.readMessage();
  assertEquals(raw.rsv, Rsv.Rsv1);
  const payload = raw.data.slice();
  client.abort();
  deflating.abort();
  return payload;
}

const TEXT = json(80, 7);

Deno.test("the levels compared below give different bytes for the text", () => {
  assertNotEquals(alone(TEXT, 3), alone(TEXT, 6));
  assertNotEquals(alone(TEXT, 1), alone(TEXT, 6));
});

Deno.test("without context takeover the zlib engine compresses at level 3 by default", async () => {
  const engine = zlibEngine();
  assertEquals(await onTheWire(NONE, { engine }, TEXT), alone(TEXT, 3));
  assertEquals(
    await onTheWire(NONE, { engine, level: 6 }, TEXT),
    alone(TEXT, 6),
  );
});

Deno.test("with context takeover the default level stays 6", async () => {
  const engine = zlibEngine();
  assertEquals(await onTheWire(PARAMS, { engine }, TEXT), alone(TEXT, 6));
  assertEquals(
    await onTheWire(PARAMS, { engine, level: 1 }, TEXT),
    alone(TEXT, 1),
  );
});

Deno.test("the default engine compresses at 6 whatever the takeover", async () => {
  const engine = compressionStreamEngine();
  assertEquals(await onTheWire(NONE, { engine }, TEXT), alone(TEXT, 6));
  assertEquals(await onTheWire(PARAMS, {}, TEXT), alone(TEXT, 6));
});

Deno.test("texts written at once on connections of both engines all arrive intact", async () => {
  const setups: [DeflateParams, DeflateOptions][] = [
    [PARAMS, {}],
    [NONE, {}],
    [PARAMS, { engine: zlibEngine() }],
    [NONE, { engine: zlibEngine() }],
  ];
  const pairs = setups.map(([params, options]) => {
    const { client, server } = memoryConnPair({ rsvAllowed: Rsv.Rsv1 });
    return {
      sender: new PerMessageDeflateConn(client, params, options),
      receiver: new PerMessageDeflateConn(server, params, options),
    };
  });
  const texts = (k: number) =>
    Array.from({ length: 12 }, (_, i) => json(10 + 13 * i, k * 12 + i));
  // Not awaited one by one: asynchronous compression overlaps the others.
  const writes = pairs.flatMap(({ sender }, k) =>
    texts(k).map((text) => sender.writeMessage(OpCode.Text, text))
  );
  for (const [k, { receiver }] of pairs.entries()) {
    for (const text of texts(k)) {
      const msg = await receiver.readMessage();
      assertEquals(new TextDecoder().decode(msg.data), text);
    }
  }
  await Promise.all(writes);
  for (const { sender, receiver } of pairs) {
    sender.abort();
    receiver.abort();
  }
});
