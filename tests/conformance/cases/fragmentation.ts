/**
 * Fragmentation (RFC 6455 §5.4): messages in many fragments, control frames
 * between fragments, fragmented control frames and broken continuations.
 *
 * @module
 */

import type { Case, Expected } from "../_case.ts";
import { pongEvent, textEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op } from "../../_wire.ts";
import type { FrameSpec } from "../_peer.ts";
import { echoOf, fragmentFrames, payload, sleep } from "./_helpers.ts";

const frag1 = enc("fragment1");
const frag2 = enc("fragment2");
const both = enc("fragment1fragment2");

function protocolError(
  id: string,
  title: string,
  frames: FrameSpec[],
  before: Expected[] = [],
): Case {
  return {
    id,
    area: "fragmentation",
    title,
    expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError], before },
    run: (p) => p.send(...frames),
  };
}

function echo(
  id: string,
  title: string,
  expected: Expected[],
  run: Case["run"],
): Case {
  return {
    id,
    area: "fragmentation",
    title,
    expect: { kind: "echo", events: expected },
    run,
  };
}

const twoText: FrameSpec[] = [
  { opcode: Op.Text, payload: frag1, fin: false },
  { opcode: Op.Continuation, payload: frag2 },
];
const withPing: FrameSpec[] = [
  { opcode: Op.Text, payload: frag1, fin: false },
  { opcode: Op.Ping, payload: enc("ping") },
  { opcode: Op.Continuation, payload: frag2 },
];

/** The fragmentation cases. */
export function fragmentationCases(): Case[] {
  const cases: Case[] = [
    protocolError("5.1", "ping in two fragments", [
      { opcode: Op.Ping, payload: frag1, fin: false },
      { opcode: Op.Continuation, payload: frag2 },
    ]),
    protocolError("5.2", "pong in two fragments", [
      { opcode: Op.Pong, payload: frag1, fin: false },
      { opcode: Op.Continuation, payload: frag2 },
    ]),
    protocolError("5.3", "close with FIN clear", [
      { opcode: Op.Close, payload: new Uint8Array([0x03, 0xe8]), fin: false },
      { opcode: Op.Continuation, payload: frag2 },
    ]),
    echo(
      "5.4",
      "text in two fragments",
      [textEvent(both)],
      (p) => p.send(...twoText),
    ),
    echo(
      "5.5",
      "text in two fragments, one byte per TCP write",
      [textEvent(both)],
      (p) => p.sendChopped(twoText, 1),
    ),
    echo(
      "5.6",
      "text in two fragments with a ping between them",
      [pongEvent("ping"), textEvent(both)],
      (p) => p.send(...withPing),
    ),
    echo(
      "5.7",
      "text in two fragments with a ping between them, one byte per TCP write",
      [pongEvent("ping"), textEvent(both)],
      (p) => p.sendChopped(withPing, 1),
    ),
    echo(
      "5.8",
      "text in two fragments with a ping between them, one frame per TCP write with pauses",
      [pongEvent("ping"), textEvent(both)],
      async (p) => {
        for (const f of withPing) {
          await p.send(f);
          await sleep(10);
        }
      },
    ),
    protocolError(
      "5.9",
      "continuation (FIN set) without a message to continue",
      [
        { opcode: Op.Continuation, payload: frag1 },
      ],
    ),
    protocolError(
      "5.10",
      "continuation (FIN clear) without a message to continue, then text",
      [
        { opcode: Op.Continuation, payload: frag1, fin: false },
        { opcode: Op.Text, payload: frag2 },
      ],
    ),
    protocolError(
      "5.11",
      "text (FIN clear), then a new text frame inside the message",
      [
        { opcode: Op.Text, payload: frag1, fin: false },
        { opcode: Op.Text, payload: frag2 },
      ],
    ),
    protocolError(
      "5.12",
      "text (FIN clear), then a binary frame inside the message",
      [
        { opcode: Op.Text, payload: frag1, fin: false },
        { opcode: Op.Binary, payload: frag2 },
      ],
    ),
    protocolError(
      "5.13",
      "text, continuation (FIN clear), then a new text frame (FIN clear)",
      [
        { opcode: Op.Text, payload: frag1, fin: false },
        { opcode: Op.Continuation, payload: frag2, fin: false },
        { opcode: Op.Text, payload: frag1, fin: false },
        { opcode: Op.Continuation, payload: frag2 },
      ],
    ),
    protocolError(
      "5.14",
      "a complete text message, then a stray continuation",
      [{ opcode: Op.Text, payload: frag1 }, {
        opcode: Op.Continuation,
        payload: frag2,
      }],
      [textEvent(frag1)],
    ),
    chainCase(),
    echo(
      "5.16",
      "text of empty fragments around one non-empty fragment",
      [textEvent("x")],
      (p) =>
        p.send(
          { opcode: Op.Text, fin: false },
          { opcode: Op.Continuation, fin: false },
          { opcode: Op.Continuation, payload: enc("x"), fin: false },
          { opcode: Op.Continuation },
        ),
    ),
    echo(
      "5.17",
      "text made of two empty fragments",
      [textEvent("")],
      (p) =>
        p.send({ opcode: Op.Text, fin: false }, { opcode: Op.Continuation }),
    ),
    interleavedCase(),
    echo(
      "5.19",
      "text in two fragments with an unsolicited pong between them",
      [textEvent(both)],
      (p) =>
        p.send(
          twoText[0],
          { opcode: Op.Pong, payload: enc("pong") },
          twoText[1],
        ),
    ),
    {
      id: "5.20",
      area: "fragmentation",
      title:
        "close in the middle of a fragmented text (message dropped, close answered)",
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: async (p) => {
        await p.send(twoText[0]);
        await p.close(CLOSE_CODES.NormalClosure);
        await p.send(twoText[1]);
      },
    },
    {
      id: "5.21",
      area: "fragmentation",
      title: "binary in 100 fragments of 100 bytes",
      expect: {
        kind: "echo",
        events: [echoOf(Op.Binary, payload(Op.Binary, 10000))],
      },
      run: (p) =>
        p.send(...fragmentFrames(Op.Binary, payload(Op.Binary, 10000), 100)),
    },
  ];
  cases.push(...permutations());
  return cases;
}

function chainCase(): Case {
  const data = payload(Op.Text, 200);
  const frames: FrameSpec[] = [...data].map((_, i) => ({
    opcode: i === 0 ? Op.Text : Op.Continuation,
    payload: data.subarray(i, i + 1),
    fin: i === data.length - 1,
  }));
  return echo(
    "5.15",
    "text in 200 one-byte fragments",
    [textEvent(data)],
    (p) => p.send(...frames),
  );
}

function interleavedCase(): Case {
  const parts = ["one", "two", "three", "four", "five"].map((s) => enc(s));
  return echo(
    "5.18",
    "text in 5 fragments with 2 pings between them, with pauses",
    [
      pongEvent("ping 1"),
      pongEvent("ping 2"),
      textEvent("onetwothreefourfive"),
    ],
    async (p) => {
      const f = (i: number): FrameSpec => ({
        opcode: i === 0 ? Op.Text : Op.Continuation,
        payload: parts[i],
        fin: i === 4,
      });
      const steps: FrameSpec[] = [
        f(0),
        f(1),
        { opcode: Op.Ping, payload: enc("ping 1") },
        f(2),
        f(3),
        { opcode: Op.Ping, payload: enc("ping 2") },
        f(4),
      ];
      for (const s of steps) {
        await p.send(s);
        await sleep(5);
      }
    },
  );
}

/** Text and binary in 2-4 fragments, with a ping at every position (or none). */
function permutations(): Case[] {
  const cases: Case[] = [];
  let n = 0;
  for (const opcode of [Op.Text, Op.Binary]) {
    for (const pieces of [2, 3, 4]) {
      const data = payload(opcode, 12 * pieces);
      const frames = fragmentFrames(opcode, data, pieces);
      for (let at = -1; at <= pieces; at++) {
        const ping: FrameSpec = {
          opcode: Op.Ping,
          payload: enc(`ping at ${at}`),
        };
        const sent = at < 0
          ? frames
          : [...frames.slice(0, at), ping, ...frames.slice(at)];
        const expected = at < 0
          ? [echoOf(opcode, data)]
          : at === pieces
          ? [echoOf(opcode, data), pongEvent(ping.payload)]
          : [pongEvent(ping.payload), echoOf(opcode, data)];
        const where = at < 0 ? "no ping" : `ping before frame ${at + 1}`;
        const name = opcode === Op.Text ? "text" : "binary";
        cases.push(echo(
          `5.22.${++n}`,
          `${name} in ${pieces} fragments, ${
            at === pieces ? "ping after the last frame" : where
          }`,
          expected,
          (p) => p.send(...sent),
        ));
      }
    }
  }
  return cases;
}
