/**
 * Framing (RFC 6455 §5.2): every payload-length form, split TCP writes, length
 * encodings that are not minimal, and masking in the wrong direction.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { pongEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op } from "../../_wire.ts";
import {
  echoOf,
  payload,
  sendMessage,
  sleep,
  type SuiteProfile,
  waitFor,
} from "./_helpers.ts";

const SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536];

/** The framing cases. */
export function framingCases(profile: SuiteProfile): Case[] {
  const cases: Case[] = [];
  for (const [i, opcode] of [Op.Text, Op.Binary].entries()) {
    const name = opcode === Op.Text ? "text" : "binary";
    SIZES.forEach((size, j) => {
      const data = payload(opcode, size);
      cases.push({
        id: `1.${i + 1}.${j + 1}`,
        area: "framing",
        title: `${name} message of ${size} bytes in one frame (${
          lengthForm(size)
        } length)`,
        expect: { kind: "echo", events: [echoOf(opcode, data)] },
        run: (p) => sendMessage(p, opcode, data),
      });
    });
    const big = payload(opcode, 65536);
    cases.push({
      id: `1.${i + 1}.${SIZES.length + 1}`,
      area: "framing",
      title:
        `${name} message of 65536 bytes in one frame, written in 997-byte TCP chunks`,
      expect: { kind: "echo", events: [echoOf(opcode, big)] },
      run: (p) => sendMessage(p, opcode, big, { chop: 997 }),
    });
  }
  const whole = payload(Op.Binary, profile.readLimit);
  cases.push({
    id: "1.3.1",
    area: "framing",
    title:
      `binary message of ${profile.readLimit} bytes (the read limit) in one frame`,
    expect: { kind: "echo", events: [echoOf(Op.Binary, whole)] },
    waitMs: waitFor(whole.length),
    run: (p) => sendMessage(p, Op.Binary, whole),
  });
  cases.push(
    ...splitHeaderCases(),
    ...oddLengthCases(),
    ...maskingCases(),
    ...earlyCases(),
  );
  return cases;
}

function lengthForm(size: number): string {
  return size < 126 ? "7-bit" : size < 65536 ? "16-bit" : "64-bit";
}

function splitHeaderCases(): Case[] {
  const small = payload(Op.Text, 130);
  const mid = payload(Op.Binary, 300);
  const large = payload(Op.Binary, 70000);
  return [
    {
      id: "1.4.1",
      area: "framing",
      title: "text frame of 130 bytes written one byte per TCP write",
      expect: { kind: "echo", events: [echoOf(Op.Text, small)] },
      run: (p) => p.sendChopped([{ opcode: Op.Text, payload: small }], 1),
    },
    {
      id: "1.4.2",
      area: "framing",
      title: "16-bit length header split after its first 3 bytes, with a pause",
      expect: { kind: "echo", events: [echoOf(Op.Binary, mid)] },
      run: async (p) => {
        const bytes = p.frame({ opcode: Op.Binary, payload: mid });
        await p.sendRaw(bytes.subarray(0, 3));
        await sleep(20);
        await p.sendRaw(bytes.subarray(3));
      },
    },
    {
      id: "1.4.3",
      area: "framing",
      title:
        "64-bit length header written byte by byte with pauses, then the payload",
      expect: { kind: "echo", events: [echoOf(Op.Binary, large)] },
      run: async (p) => {
        const bytes = p.frame({ opcode: Op.Binary, payload: large });
        const header = p.role === "client" ? 14 : 10;
        for (let i = 0; i < header; i++) {
          await p.sendRaw(bytes.subarray(i, i + 1));
          await sleep(2);
        }
        await p.sendRaw(bytes.subarray(header));
      },
    },
    {
      id: "1.4.4",
      area: "framing",
      title: "a text and a binary message in the same TCP write",
      expect: {
        kind: "echo",
        events: [echoOf(Op.Text, small), echoOf(Op.Binary, mid)],
      },
      run: (p) =>
        p.send({ opcode: Op.Text, payload: small }, {
          opcode: Op.Binary,
          payload: mid,
        }),
    },
  ];
}

function oddLengthCases(): Case[] {
  const five = payload(Op.Text, 5);
  const twoHundred = payload(Op.Binary, 200);
  return [
    {
      id: "1.5.1",
      area: "framing",
      title:
        "5-byte text payload with a 16-bit length (not minimal; RFC: sender MUST NOT)",
      expect: { kind: "info" },
      run: (p) => p.send({ opcode: Op.Text, payload: five, lengthForm: 16 }),
    },
    {
      id: "1.5.2",
      area: "framing",
      title: "200-byte binary payload with a 64-bit length (not minimal)",
      expect: { kind: "info" },
      run: (p) =>
        p.send({ opcode: Op.Binary, payload: twoHundred, lengthForm: 64 }),
    },
    {
      id: "1.5.3",
      area: "framing",
      title: "64-bit length with the most significant bit set (RFC: MUST be 0)",
      expect: {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError, CLOSE_CODES.MessageTooBig],
      },
      run: (p) =>
        p.send({
          opcode: Op.Binary,
          payload: five,
          lengthForm: 64,
          length: 0x8000000000000005n,
        }),
    },
  ];
}

function maskingCases(): Case[] {
  const hello = enc("Hello, world!");
  return [
    {
      id: "1.6.1",
      area: "framing",
      title:
        "unmasked text frame from the client (RFC 6455 §5.1: server MUST close)",
      testee: ["server"],
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Text, payload: hello, mask: false }),
    },
    {
      id: "1.6.2",
      area: "framing",
      title:
        "masked text frame from the server (RFC 6455 §5.1: client MUST close)",
      testee: ["client"],
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Text, payload: hello, mask: true }),
    },
  ];
}

function earlyCases(): Case[] {
  const hello = payload(Op.Text, 20);
  const big = payload(Op.Binary, 100_000);
  return [
    {
      id: "1.7.1",
      area: "framing",
      title:
        "text and ping in the same TCP write as the upgrade request / 101 answer",
      early: [{ opcode: Op.Text, payload: hello }, {
        opcode: Op.Ping,
        payload: hello,
      }],
      expect: {
        kind: "echo",
        events: [echoOf(Op.Text, hello), pongEvent(hello)],
      },
      run: () => Promise.resolve(),
    },
    {
      id: "1.7.2",
      area: "framing",
      title:
        "a 100000-byte binary frame in the same TCP write as the handshake",
      early: [{ opcode: Op.Binary, payload: big }],
      expect: { kind: "echo", events: [echoOf(Op.Binary, big)] },
      run: () => Promise.resolve(),
    },
    {
      id: "1.7.3",
      area: "framing",
      title: "close 1000 in the same TCP write as the handshake",
      early: [{ opcode: Op.Close, payload: new Uint8Array([0x03, 0xe8]) }],
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: () => Promise.resolve(),
    },
  ];
}
