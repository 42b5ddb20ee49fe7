/**
 * Messages whose DEFLATE data ends with a final (BFINAL) block, as Bun and
 * `zlib.deflateRawSync` send them (RFC 7692 §7.2.3.4): both engines, with and
 * without context takeover, where the next stream presets the window as its
 * dictionary; garbage, stream floods and bombs still fail; and over a socket.
 */

import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  constants,
  createDeflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import { Conn, OpCode, Rsv, WebSocketError } from "../../mod.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";
import type { DeflateEngine } from "../../src/deflate/compressor.ts";
import { InflateOutput } from "../../src/deflate/inflate_output.ts";
import { InflateWindow } from "../../src/deflate/inflate_window.ts";
import type { DeflateParams } from "../../src/deflate/negotiate.ts";
import { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { frame, parseFrames, tcpPair } from "../_pair.ts";
import { concat, dec, enc, hex } from "../_wire.ts";

const ENGINES: DeflateEngine[] = [compressionStreamEngine(), zlibEngine()];
const MODES = [["takeover", false], ["no takeover", true]] as const;

/** Texts where each one repeats much of the ones before it. */
const TEXTS = [
  '{"user":"alice","action":"login","room":"lobby","ok":true}',
  '{"user":"alice","action":"say","room":"lobby","text":"hello everyone"}',
  '{"user":"bob","action":"say","room":"lobby","text":"hello everyone, alice"}',
  '{"user":"alice","action":"logout","room":"lobby","ok":true}',
];

/** A `node:zlib` raw deflater's synchronous handle, as the zlib engine uses it. */
interface Deflater {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  close(): void;
}

/** Deflates `data` with `flush` on `handle`; returns the output. */
function run(
  stream: { _handle: Deflater; _writeState: Uint32Array },
  data: Uint8Array,
  flush: number,
): Uint8Array {
  const out = new Uint8Array(data.length + 1024);
  stream._handle.writeSync(flush, data, 0, data.length, out, 0, out.length);
  return out.slice(0, out.length - stream._writeState[0]);
}

/**
 * What a sender with context takeover that ends each message with a final
 * block (or, where `sync` says, with a sync flush) sends: each message a new
 * DEFLATE stream that starts from the sender's output so far, as a preset
 * dictionary does (deflated and dropped here, since Deno's raw deflater
 * ignores the `dictionary` option).
 */
function takeoverMessages(texts: string[], sync: boolean[] = []): Uint8Array[] {
  const window = new InflateWindow(15);
  return texts.map((text, i) => {
    const data = enc(text);
    const stream = createDeflateRaw() as unknown as {
      _handle: Deflater;
      _writeState: Uint32Array;
    };
    if (window.length > 0) {
      run(stream, window.dictionary(), constants.Z_SYNC_FLUSH);
    }
    window.push(data);
    const packed = run(
      stream,
      data,
      sync[i] ? constants.Z_SYNC_FLUSH : constants.Z_FINISH,
    );
    stream._handle.close();
    return sync[i] ? packed.subarray(0, packed.length - 4) : packed;
  });
}

async function inflateAll(
  engine: DeflateEngine,
  messages: Uint8Array[],
  noContextTakeover: boolean,
  limit = 1 << 20,
): Promise<string[]> {
  const d = engine.decompressor({ windowBits: 15, noContextTakeover });
  const out = new InflateOutput();
  const texts: string[] = [];
  try {
    for (const m of messages) {
      out.start(limit);
      await d.decompress(m, true, out);
      texts.push(dec(out.data));
      if (noContextTakeover) d.reset();
    }
  } finally {
    d.close();
  }
  return texts;
}

Deno.test("takeover messages really reference earlier messages", () => {
  const messages = takeoverMessages(TEXTS);
  assertEquals(dec(inflateRawSync(messages[0])), TEXTS[0]);
  for (const m of messages.slice(1)) {
    assertThrows(() => inflateRawSync(m), Error, "too far back");
  }
});

for (const engine of ENGINES) {
  const name = engine.name;

  for (const [mode, noTakeover] of MODES) {
    Deno.test(`${name}, ${mode}: RFC 7692 §7.2.3.4 final block with its 00 octet, as Bun sends it`, async () => {
      const bun = hex("f3 48 cd c9 c9 07 00 00");
      assertEquals(
        await inflateAll(
          engine,
          [bun, bun, hex("f2 48 cd c9 c9 07 00"), bun],
          noTakeover,
        ),
        ["Hello", "Hello", "Hello", "Hello"],
      );
    });

    Deno.test(`${name}, ${mode}: deflateRawSync messages, small and large`, async () => {
      const texts = [TEXTS[0], "x".repeat(70_000), TEXTS[1].repeat(3000), ""];
      const messages: Uint8Array[] = texts.map((t) => deflateRawSync(enc(t)));
      // Bun's form too: the final block and one 00 octet.
      messages.push(concat(deflateRawSync(enc(TEXTS[2])), hex("00")));
      assertEquals(
        await inflateAll(engine, messages, noTakeover),
        [...texts, TEXTS[2]],
      );
    });

    Deno.test(`${name}, ${mode}: a new stream after a final block inside one message`, async () => {
      const a = enc(TEXTS[0]);
      const b = enc(TEXTS[1]);
      // Without takeover the second stream may not reach back into the first.
      const second = noTakeover
        ? deflateRawSync(b)
        : takeoverMessages([TEXTS[0], TEXTS[1]])[1];
      const message = concat(deflateRawSync(a), second);
      assertEquals(
        await inflateAll(engine, [message, deflateRawSync(a)], noTakeover),
        [TEXTS[0] + TEXTS[1], TEXTS[0]],
      );
    });

    Deno.test(`${name}, ${mode}: garbage after a final block fails with 1007`, async () => {
      for (const tail of ["01 02", "ff", "00 00 ff ff 01"]) {
        const d = engine.decompressor({
          windowBits: 15,
          noContextTakeover: noTakeover,
        });
        const out = new InflateOutput();
        out.start(1024);
        const err = await assertRejects(
          async () =>
            await d.decompress(
              concat(hex("f3 48 cd c9 c9 07 00"), hex(tail)),
              true,
              out,
            ),
          WebSocketError,
        );
        assertEquals(err.closeCode, 1007, tail);
        d.close();
      }
    });

    Deno.test(`${name}, ${mode}: a message of many empty final blocks fails with 1007`, async () => {
      const flood = new Uint8Array(2000).fill(0x03).map((b, i) =>
        i % 2 ? 0 : b
      );
      const d = engine.decompressor({
        windowBits: 15,
        noContextTakeover: noTakeover,
      });
      const out = new InflateOutput();
      out.start(1024);
      const err = await assertRejects(
        async () => await d.decompress(flood, true, out),
        WebSocketError,
      );
      assertEquals(err.closeCode, 1007);
      d.close();
    });

    Deno.test(`${name}, ${mode}: a final-block bomb fails with 1009 at the read limit`, async () => {
      const bomb = concat(deflateRawSync(new Uint8Array(16 << 20)), hex("00"));
      const d = engine.decompressor({
        windowBits: 15,
        noContextTakeover: noTakeover,
      });
      const out = new InflateOutput();
      out.start(1 << 20);
      const err = await assertRejects(
        async () => await d.decompress(bomb, true, out),
        WebSocketError,
      );
      assertEquals([err.code, err.closeCode], ["message_too_big", 1009]);
      assert(out.length <= 1 << 20);
      d.close();
    });
  }

  Deno.test(`${name}, takeover: each message a new stream with the window as dictionary`, async () => {
    assertEquals(
      await inflateAll(engine, takeoverMessages(TEXTS), false),
      TEXTS,
    );
  });

  Deno.test(`${name}, takeover: final blocks mixed with sync-flushed messages`, async () => {
    const texts = [...TEXTS, ...TEXTS.map((t) => t.toUpperCase()), ...TEXTS];
    for (const pattern of [[true, false], [false, true], [true, true, false]]) {
      const sync = texts.map((_, i) => pattern[i % pattern.length]);
      assertEquals(
        await inflateAll(engine, takeoverMessages(texts, sync), false),
        texts,
        String(pattern),
      );
    }
  });
}

const PARAMS: DeflateParams = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** A raw client sends final-block messages to our server over TCP; it echoes. */
async function echoOverSocket(
  engine: DeflateEngine,
  clientNoContextTakeover: boolean,
): Promise<void> {
  const { client, server } = await tcpPair();
  const conn = new PerMessageDeflateConn(
    new Conn(server, {
      role: "server",
      rsvAllowed: Rsv.Rsv1,
      extensions: "permessage-deflate",
      closeTimeout: 1000,
    }),
    { ...PARAMS, clientNoContextTakeover },
    { engine, threshold: 0 },
  );
  const texts = [...TEXTS, TEXTS[1].repeat(500)];
  const messages = clientNoContextTakeover
    ? texts.map((t) => concat(deflateRawSync(enc(t)), hex("00")))
    : takeoverMessages(texts, [false, true, false, false, false]);
  const echo = (async () => {
    for (let i = 0; i < texts.length + 1; i++) {
      const msg = await conn.readMessage();
      await conn.writeMessage(msg.opcode, msg.data);
    }
  })();
  try {
    for (const m of messages) await client.write(frame(0xc1, m));
    // One more, fragmented: RSV1 on the first frame only.
    const last = deflateRawSync(enc(TEXTS[0]));
    await client.write(frame(0x41, last.subarray(0, 5)));
    await client.write(frame(0x80, last.subarray(5)));
    await echo;
    const want = texts.length + 1;
    let bytes = new Uint8Array(0);
    const buf = new Uint8Array(64 * 1024);
    const deadline = Date.now() + 5000;
    while (parseFrames(bytes).length < want && Date.now() < deadline) {
      const n = await client.read(buf);
      if (n === null) break;
      bytes = concat(bytes, buf.subarray(0, n));
    }
    const got = parseFrames(bytes).map((f) => {
      assertEquals([f.opcode, f.rsv], [OpCode.Text, Rsv.Rsv1]);
      // Without server context takeover each echo inflates on its own.
      return dec(inflateRawSync(concat(f.payload, hex("00 00 ff ff")), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }));
    });
    assertEquals(got, [...texts, TEXTS[0]]);
  } finally {
    conn.abort();
    await echo.catch(() => {});
    client.close();
  }
}

for (const engine of ENGINES) {
  for (const [mode, noTakeover] of MODES) {
    Deno.test(`${engine.name}, client ${mode}: our server echoes final-block messages from a raw client over TCP`, async () => {
      await echoOverSocket(engine, noTakeover);
    });
  }
}
