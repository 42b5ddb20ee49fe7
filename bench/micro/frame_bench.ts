/**
 * Frame writing into the scratchpad: 16 frames per iteration, then a flush, by
 * payload size, for the server (unmasked) and client (masked) roles. The baseline
 * is the bare work (header encoding and a copy into one buffer, no writer).
 *
 * @module
 */

import { Conn, encodeHeader, OpCode } from "../../mod.ts";
import { FrameWriter } from "../../src/io/frame_writer.ts";
import { ByteSink } from "../../src/io/transport.ts";
import { bench } from "./_bench.ts";
import { ReplayTransport } from "../_replay.ts";
import { asciiText } from "../_frames.ts";

const BATCH = 16;
const CHUNK = 4096;
const SIZES = [0, 20, 125, 1024, 4096];
const FIN_TEXT = 0x81;

function writerFor(role: "client" | "server"): FrameWriter {
  const sink = new ByteSink(new ReplayTransport(new Uint8Array(0)));
  return new FrameWriter(sink, role === "client", CHUNK);
}

for (const size of SIZES) {
  const payload = asciiText(size);
  const text = new TextDecoder().decode(payload);
  const group = `write ${BATCH} x ${size} B`;
  const flat = new Uint8Array(BATCH * (size + 14));
  bench({
    name: `encodeHeader + copy, no writer (${size} B)`,
    group,
    baseline: true,
    fn() {
      let at = 0;
      for (let i = 0; i < BATCH; i++) {
        at += encodeHeader(flat, at, FIN_TEXT, size, null);
        flat.set(payload, at);
        at += size;
      }
    },
  });
  for (const role of ["server", "client"] as const) {
    const writer = writerFor(role);
    bench({
      name: `FrameWriter.write ${role} (${size} B)`,
      group,
      async fn() {
        for (let i = 0; i < BATCH; i++) writer.write(FIN_TEXT, payload);
        await writer.flush();
      },
    });
  }
  const conn = new Conn(new ReplayTransport(new Uint8Array(0)), {
    role: "server",
  });
  bench({
    name: `Conn.writeMessage server bytes (${size} B)`,
    group,
    async fn() {
      for (let i = 0; i < BATCH; i++) conn.writeMessage(OpCode.Text, payload);
      await conn.flush();
    },
  });
  bench({
    name: `Conn.writeMessage server string (${size} B)`,
    group,
    async fn() {
      for (let i = 0; i < BATCH; i++) conn.writeMessage(OpCode.Text, text);
      await conn.flush();
    },
  });
}
