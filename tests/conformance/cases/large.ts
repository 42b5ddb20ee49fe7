/**
 * Large messages: 64 KiB to the read limit in one frame, in fragments of many
 * sizes, in small TCP writes, and one byte beyond the limit (1009).
 *
 * @module
 */

import type { Case, Expected } from "../_case.ts";
import { pongEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op } from "../../_wire.ts";
import type { FrameSpec } from "../_peer.ts";
import {
  echoOf,
  failFast,
  framesOfSize,
  payload,
  sendMessage,
  type SuiteProfile,
  waitFor,
} from "./_helpers.ts";

const KiB = 1024;
const MiB = 1024 * 1024;
const WHOLE = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];
const FRAGMENT = [
  64,
  256,
  1 * KiB,
  4 * KiB,
  16 * KiB,
  64 * KiB,
  256 * KiB,
  1 * MiB,
  4 * MiB,
];
const CHOP = [64, 128, 256, 512, 1024, 2048, 4096];

function name(opcode: number): string {
  return opcode === Op.Text ? "text" : "binary";
}

function size(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`;
}

/** The large-message cases. */
export function largeCases(profile: SuiteProfile): Case[] {
  const cases: Case[] = [];
  const ops = [Op.Text, Op.Binary];
  ops.forEach((opcode, k) => {
    WHOLE.filter((n) => n <= profile.readLimit).forEach((n, i) => {
      cases.push({
        id: `8.${1 + k}.${i + 1}`,
        area: "large messages",
        title: `${name(opcode)} message of ${size(n)} in one frame`,
        expect: { kind: "echo", events: [echoOf(opcode, payload(opcode, n))] },
        waitMs: waitFor(n),
        run: (p) => sendMessage(p, opcode, payload(opcode, n)),
      });
    });
    const total = Math.min(4 * MiB, profile.readLimit);
    FRAGMENT.forEach((f, i) => {
      cases.push({
        id: `8.${3 + k}.${i + 1}`,
        area: "large messages",
        title: `${name(opcode)} message of ${size(total)} in fragments of ${
          size(f)
        }`,
        expect: {
          kind: "echo",
          events: [echoOf(opcode, payload(opcode, total))],
        },
        waitMs: waitFor(total),
        run: (p) =>
          sendMessage(p, opcode, payload(opcode, total), { fragmentSize: f }),
      });
    });
    CHOP.forEach((c, i) => {
      cases.push({
        id: `8.${5 + k}.${i + 1}`,
        area: "large messages",
        title: `${
          name(opcode)
        } message of 1 MiB in one frame, in TCP writes of ${c} bytes`,
        expect: {
          kind: "echo",
          events: [echoOf(opcode, payload(opcode, MiB))],
        },
        waitMs: waitFor(MiB),
        run: (p) => sendMessage(p, opcode, payload(opcode, MiB), { chop: c }),
      });
    });
  });
  cases.push(...overLimit(profile), interleavedPings());
  return cases;
}

function overLimit(profile: SuiteProfile): Case[] {
  const limit = profile.readLimit;
  const tooBig = { kind: "close" as const, codes: [CLOSE_CODES.MessageTooBig] };
  return [
    {
      id: "8.7.1",
      area: "large messages",
      title: `binary message of the read limit + 1 (${
        limit + 1
      } bytes) in one frame`,
      expect: tooBig,
      waitMs: waitFor(limit),
      run: (p) => sendMessage(p, Op.Binary, payload(Op.Binary, limit + 1)),
    },
    {
      id: "8.7.2",
      area: "large messages",
      title: `text message of the read limit + 1 in 1 MiB fragments`,
      expect: tooBig,
      waitMs: waitFor(limit),
      run: (p) =>
        sendMessage(p, Op.Text, payload(Op.Text, limit + 1), {
          fragmentSize: MiB,
        }),
    },
    {
      id: "8.7.3",
      area: "large messages",
      title:
        "frame header announcing read limit + 1 bytes: refused before the payload arrives",
      expect: { ...tooBig, failFast: true },
      waitMs: waitFor(limit),
      run: (p) => {
        const bytes = p.frame({
          opcode: Op.Binary,
          payload: payload(Op.Binary, limit + 1),
        });
        return failFast(
          p,
          bytes.subarray(0, 1024),
          bytes.subarray(1024),
          profile.failFastMs,
        );
      },
    },
  ];
}

/** 4 MiB in 1 KiB fragments with a ping after every 256th fragment. */
function interleavedPings(): Case {
  const data = payload(Op.Binary, 4 * MiB);
  const frames: FrameSpec[] = [];
  const pongs: Expected[] = [];
  framesOfSize(Op.Binary, data, KiB).forEach((f, i) => {
    frames.push(f);
    if (i % 256 === 255 && !f.fin) {
      const ping = enc(`ping after fragment ${i + 1}`);
      frames.push({ opcode: Op.Ping, payload: ping });
      pongs.push(pongEvent(ping));
    }
  });
  return {
    id: "8.8.1",
    area: "large messages",
    title:
      `binary message of 4 MiB in 1 KiB fragments with ${pongs.length} pings between them`,
    expect: { kind: "echo", events: [...pongs, echoOf(Op.Binary, data)] },
    waitMs: waitFor(4 * MiB),
    run: (p) => p.send(...frames),
  };
}
