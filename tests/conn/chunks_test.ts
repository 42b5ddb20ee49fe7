import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  checkDataOpCode,
  checkFragmentSize,
  countBytes,
  forEachFragment,
} from "../../src/conn/chunks.ts";
import { Conn, OpCode, Rsv } from "../../mod.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import {
  closeCodeOf,
  connPair,
  parseFrames,
  readToEnd,
  tcpPair,
} from "../_pair.ts";
import { dec } from "../_wire.ts";

async function* pieces(sizes: number[]): AsyncGenerator<Uint8Array> {
  let n = 0;
  for (const size of sizes) {
    yield Uint8Array.from({ length: size }, () => n++ & 0xff);
  }
}

async function fragments(sizes: number[], size: number) {
  const out: { bytes: number[]; last: boolean }[] = [];
  await forEachFragment(
    pieces(sizes),
    new Uint8Array(size),
    size,
    (p, last) => {
      out.push({ bytes: [...p], last });
      return Promise.resolve();
    },
  );
  return out;
}

Deno.test("forEachFragment cuts any input into full fragments, the last one marked", async () => {
  const got = await fragments([3, 1, 6], 4);
  assertEquals(got, [
    { bytes: [0, 1, 2, 3], last: false },
    { bytes: [4, 5, 6, 7], last: false },
    { bytes: [8, 9], last: true },
  ]);
  // An exact multiple ends with a full fragment, not an empty one (lookahead).
  assertEquals((await fragments([8], 4)).map((f) => [f.bytes.length, f.last]), [
    [4, false],
    [4, true],
  ]);
  // An empty stream is one empty final fragment.
  assertEquals(await fragments([], 4), [{ bytes: [], last: true }]);
  assertEquals(await fragments([0, 0], 4), [{ bytes: [], last: true }]);
});

Deno.test("forEachFragment takes a ReadableStream too, and stops at the source's error", async () => {
  const stream = ReadableStream.from(pieces([5, 5]));
  const seen: number[] = [];
  await forEachFragment(stream, new Uint8Array(4), 4, (p) => {
    seen.push(p.length);
    return Promise.resolve();
  });
  assertEquals(seen, [4, 4, 2]);
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(9);
    throw new Error("source failed");
  }
  const emitted: boolean[] = [];
  const err = await forEachFragment(
    broken(),
    new Uint8Array(4),
    4,
    (_, last) => {
      emitted.push(last);
      return Promise.resolve();
    },
  ).catch((e) => e);
  assertEquals(err.message, "source failed");
  assertEquals(emitted, [false, false]); // never a final fragment
});

Deno.test("checkDataOpCode and checkFragmentSize refuse what no connection can send", () => {
  checkDataOpCode(OpCode.Text);
  checkDataOpCode(OpCode.Binary);
  assertThrows(() => checkDataOpCode(OpCode.Ping as never), TypeError);
  checkFragmentSize(1, 4096);
  checkFragmentSize(4096, 4096);
  for (const bad of [0, 4097, 1.5, NaN]) {
    assertThrows(() => checkFragmentSize(bad, 4096), RangeError);
  }
});

Deno.test("countBytes counts what goes through", async () => {
  const counted = countBytes(pieces([3, 0, 5]));
  let seen = 0;
  for await (const chunk of counted) seen += chunk.length;
  assertEquals([seen, counted.bytes], [8, 8]);
});

Deno.test("streamMessage with RSV bits the connection allows: on the first frame only, over TCP", async () => {
  const { client, server } = await connPair(
    { rsvAllowed: Rsv.Rsv2 | Rsv.Rsv3, closeTimeout: 1000 },
  );
  await client.streamMessage(OpCode.Binary, pieces([3000, 3000]), 2048, {
    rsv: Rsv.Rsv2 | Rsv.Rsv3,
  });
  const frames = [];
  for (let i = 0; i < 3; i++) {
    const h = await server.readHeader();
    frames.push({ op: h.opcode, rsv: h.rsv, fin: h.fin, length: h.length });
    await server.readPayload(new Uint8Array(h.length));
  }
  assertEquals(frames, [
    { op: OpCode.Binary, rsv: 0x30, fin: false, length: 2048 },
    { op: OpCode.Continuation, rsv: 0, fin: false, length: 2048 },
    { op: OpCode.Continuation, rsv: 0, fin: true, length: 1904 },
  ]);
  // And whole: the message reports its first frame's bits.
  await client.streamMessage(OpCode.Text, pieces([10]), undefined, {
    rsv: Rsv.Rsv2,
  });
  assertEquals((await server.readMessage()).rsv, Rsv.Rsv2);
  // Bits the connection does not allow: refused before anything is sent.
  const err = await assertRejects(
    () =>
      server.streamMessage(OpCode.Text, pieces([1]), undefined, {
        rsv: Rsv.Rsv1,
      }),
    RangeError,
  );
  assertEquals(
    err.message,
    "RSV bits 0x40 are not allowed on this connection (rsvAllowed 0x30)",
  );
  await client.writeMessage(OpCode.Text, "ok");
  assertEquals(dec((await server.readMessage()).data), "ok");
  await Promise.all([client.close(), server.close()]);
});

Deno.test("a peer that does not allow the bits refuses the message (1002)", async () => {
  const tcp = await tcpPair();
  const client = new Conn(tcp.client, {
    role: "client",
    rsvAllowed: Rsv.Rsv2,
  });
  await client.streamMessage(OpCode.Binary, pieces([10]), undefined, {
    rsv: Rsv.Rsv2,
  });
  const server = new Conn(tcp.server, { role: "server", closeTimeout: 500 });
  const err = await server.readMessage().catch((e) => e);
  assertEquals(err.code, "reserved_bits");
  const frames = parseFrames((await readToEnd(tcp.client, 2000)).bytes);
  assertEquals(closeCodeOf(frames[0]), 1002);
  client.abort();
});

Deno.test("a compressed connection adds the caller's bits to RSV1, and refuses RSV1 itself", async () => {
  const tcp = await tcpPair();
  const allowed = Rsv.Rsv1 | Rsv.Rsv3;
  const engine = zlibEngine();
  const client = new PerMessageDeflateConn(
    new Conn(tcp.client, { role: "client", rsvAllowed: allowed }),
    null,
    { engine },
  );
  const server = new PerMessageDeflateConn(
    new Conn(tcp.server, { role: "server", rsvAllowed: allowed }),
    null,
    { engine },
  );
  await client.streamMessage(OpCode.Binary, pieces([5000]), undefined, {
    rsv: Rsv.Rsv3,
  });
  const msg = await server.readMessage();
  assertEquals(msg.rsv, Rsv.Rsv1 | Rsv.Rsv3);
  assertEquals(msg.data.length, 5000);
  assertEquals(msg.data[4999], 4999 & 0xff);
  await assertRejects(
    () =>
      client.streamMessage(OpCode.Text, pieces([1]), undefined, {
        rsv: Rsv.Rsv1,
      }),
    RangeError,
  );
  await assertRejects(
    () =>
      client.streamMessage(OpCode.Text, pieces([1]), undefined, {
        rsv: Rsv.Rsv2,
      }),
    RangeError,
    "RSV bits 0x20 are not allowed",
  );
  await Promise.all([client.close(), server.close()]);
});
