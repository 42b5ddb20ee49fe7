/**
 * `readMessage` over an in-memory transport, by frame kind and size, for a server
 * (masked frames in). The baseline is one raw transport read of the same bytes: the
 * cost of getting them without any framing.
 *
 * @module
 */

import { Conn, ReadLimit } from "../../mod.ts";
import { bench, SMOKE } from "./_bench.ts";
import { ReplayTransport } from "../_replay.ts";
import {
  asciiText,
  BENCH_KEY,
  encodeFrame,
  FIN,
  Op,
  randomBytes,
  repeat,
} from "../_frames.ts";

const CASES = [
  {
    name: "binary 0 B",
    frames: [encodeFrame(FIN | Op.Binary, new Uint8Array(0), BENCH_KEY)],
  },
  {
    name: "ping 0 B + binary 0 B",
    frames: [
      encodeFrame(FIN | Op.Ping, new Uint8Array(0), BENCH_KEY),
      encodeFrame(FIN | Op.Binary, new Uint8Array(0), BENCH_KEY),
    ],
  },
  {
    name: "text 20 B",
    frames: [encodeFrame(FIN | Op.Text, asciiText(20), BENCH_KEY)],
  },
  {
    name: "binary 125 B",
    frames: [encodeFrame(FIN | Op.Binary, randomBytes(125), BENCH_KEY)],
  },
  {
    name: "binary 64 KiB",
    frames: [encodeFrame(FIN | Op.Binary, randomBytes(65536), BENCH_KEY)],
  },
  {
    name: "binary 1 MiB",
    frames: [encodeFrame(FIN | Op.Binary, randomBytes(1 << 20), BENCH_KEY)],
  },
];

/** Enough copies of a small frame group to fill several reads without wrapping. */
function stream(frames: Uint8Array[]): Uint8Array {
  const group = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    group.set(f, at);
    at += f.length;
  }
  return repeat(group, Math.max(1, Math.ceil(65536 / group.length)));
}

for (const { name, frames } of SMOKE ? CASES.slice(0, 3) : CASES) {
  const bytes = stream(frames);
  const size = frames.reduce((n, f) => n + f.length, 0);
  const group = `readMessage ${name}`;
  const raw = new ReplayTransport(bytes);
  const rawBuf = new Uint8Array(size);
  bench({
    name: `raw transport read of the same ${size} B`,
    group,
    baseline: true,
    async fn() {
      for (let got = 0; got < size;) {
        got += await raw.read(rawBuf.subarray(got));
      }
    },
  });
  const options = { role: "server" as const, readLimit: ReadLimit.Large };
  const inPlace = new Conn(new ReplayTransport(bytes), options);
  bench({
    name: `readMessage() ${name}`,
    group,
    async fn() {
      await inPlace.readMessage();
    },
  });
  const caller = new Conn(new ReplayTransport(bytes), options);
  const buf = new Uint8Array(2 << 20);
  bench({
    name: `readMessage(buf) ${name}`,
    group,
    async fn() {
      await caller.readMessage(buf);
    },
  });
}
