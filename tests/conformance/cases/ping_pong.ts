/**
 * Pings and pongs (RFC 6455 §5.5.2-3): payloads up to 125 bytes, oversized pings,
 * unsolicited pongs, and runs of pings.
 *
 * @module
 */

import type { Case, Expected } from "../_case.ts";
import { pongEvent, textEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op } from "../../_wire.ts";
import { pseudoRandom } from "../_data.ts";

function pingCase(
  id: string,
  title: string,
  data: Uint8Array,
  chop?: number,
): Case {
  return {
    id,
    area: "ping/pong",
    title,
    expect: { kind: "echo", events: [pongEvent(data)] },
    run: (p) =>
      chop
        ? p.sendChopped([{ opcode: Op.Ping, payload: data }], chop)
        : p.send({ opcode: Op.Ping, payload: data }),
  };
}

function tenPings(): {
  frames: { opcode: number; payload: Uint8Array }[];
  pongs: Expected[];
} {
  const frames = Array.from({ length: 10 }, (_, i) => ({
    opcode: Op.Ping,
    payload: enc(`ping number ${i + 1}`),
  }));
  return { frames, pongs: frames.map((f) => pongEvent(f.payload)) };
}

/** The ping/pong cases. */
export function pingPongCases(): Case[] {
  const binary = new Uint8Array([
    0x00,
    0xff,
    0xfe,
    0xfd,
    0xfc,
    0xfb,
    0x00,
    0xff,
  ]);
  const allBytes = Uint8Array.from(
    { length: 125 },
    (_, i) => (i * 2 + 1) & 0xff,
  );
  const cases: Case[] = [
    pingCase("2.1", "ping without payload", new Uint8Array(0)),
    pingCase("2.2", "ping with a text payload", enc("Hello, world!")),
    pingCase("2.3", "ping with a binary payload", binary),
    pingCase("2.4", "ping with a 125-byte payload", pseudoRandom(125, 7)),
    {
      id: "2.5",
      area: "ping/pong",
      title:
        "ping with a 126-byte payload (control frames are at most 125 bytes)",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Ping, payload: pseudoRandom(126, 8) }),
    },
    pingCase(
      "2.6",
      "ping with a 125-byte payload written one byte per TCP write",
      allBytes,
      1,
    ),
    {
      id: "2.7",
      area: "ping/pong",
      title: "unsolicited pong without payload (ignored)",
      expect: { kind: "echo", events: [] },
      run: (p) => p.send({ opcode: Op.Pong }),
    },
    {
      id: "2.8",
      area: "ping/pong",
      title: "unsolicited pong with payload (ignored)",
      expect: { kind: "echo", events: [] },
      run: (p) =>
        p.send({ opcode: Op.Pong, payload: enc("unsolicited pong payload") }),
    },
    {
      id: "2.9",
      area: "ping/pong",
      title: "unsolicited pong, then a ping: one pong for the ping only",
      expect: { kind: "echo", events: [pongEvent("ping payload")] },
      run: (p) =>
        p.send(
          { opcode: Op.Pong, payload: enc("unsolicited pong payload") },
          { opcode: Op.Ping, payload: enc("ping payload") },
        ),
    },
  ];
  const ten = tenPings();
  cases.push(
    {
      id: "2.10",
      area: "ping/pong",
      title:
        "10 pings in a row: 10 pongs in order (answering only the last is allowed)",
      expect: {
        kind: "echo",
        events: ten.pongs,
        nonStrictEvents: [[ten.pongs[9]]],
      },
      run: (p) => p.send(...ten.frames),
    },
    {
      id: "2.11",
      area: "ping/pong",
      title: "10 pings in a row written one byte per TCP write",
      expect: {
        kind: "echo",
        events: ten.pongs,
        nonStrictEvents: [[ten.pongs[9]]],
      },
      run: (p) => p.sendChopped(ten.frames, 1),
    },
  );
  [1, 64, 124].forEach((n, i) => {
    cases.push(
      pingCase(
        `2.12.${i + 1}`,
        `ping with a ${n}-byte binary payload`,
        pseudoRandom(n, n),
      ),
    );
  });
  cases.push(
    {
      id: "2.13",
      area: "ping/pong",
      title:
        "ping with a 65535-byte payload (16-bit length on a control frame)",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Ping, payload: new Uint8Array(65535) }),
    },
    {
      id: "2.14",
      area: "ping/pong",
      title: "text, ping, text: the pong arrives between the echoes",
      expect: {
        kind: "echo",
        events: [textEvent("first"), pongEvent("between"), textEvent("second")],
        nonStrictEvents: [[
          pongEvent("between"),
          textEvent("first"),
          textEvent("second"),
        ]],
      },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: enc("first") },
          { opcode: Op.Ping, payload: enc("between") },
          { opcode: Op.Text, payload: enc("second") },
        ),
    },
  );
  return cases;
}
