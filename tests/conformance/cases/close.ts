/**
 * The closing handshake (RFC 6455 §5.5.1, §7): close codes, reasons, and frames
 * after the close.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { textEvent } from "../_case.ts";
import {
  CLOSE_CODES,
  closePayload,
  concat,
  enc,
  hex,
  INVALID_CLOSE_CODES,
  Op,
  VALID_CLOSE_CODES,
} from "../../_wire.ts";
import { payload } from "./_helpers.ts";

/** An answer to a close without a code may itself have no code; 1005 stands for that. */
const NO_CODE = CLOSE_CODES.NoStatusReceived;

function ascii(n: number): string {
  return "abcdefghijklmnopqrstuvwxyz0123456789".repeat(4).slice(0, n);
}

/** The close cases. */
export function closeCases(): Case[] {
  const hello = enc("Hello, world!");
  const cases: Case[] = [
    {
      id: "7.1.1",
      area: "close",
      title: "text message, then close 1000",
      expect: { kind: "echo", events: [textEvent(hello)] },
      run: (p) => p.send({ opcode: Op.Text, payload: hello }),
    },
    {
      id: "7.1.2",
      area: "close",
      title: "close 1000 twice (the second is ignored)",
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: (p) =>
        p.send(
          {
            opcode: Op.Close,
            payload: closePayload(CLOSE_CODES.NormalClosure),
          },
          {
            opcode: Op.Close,
            payload: closePayload(CLOSE_CODES.NormalClosure),
          },
        ),
    },
    {
      id: "7.1.3",
      area: "close",
      title: "close 1000, then a ping (not answered)",
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: (p) =>
        p.send({
          opcode: Op.Close,
          payload: closePayload(CLOSE_CODES.NormalClosure),
        }, {
          opcode: Op.Ping,
          payload: hello,
        }),
    },
    {
      id: "7.1.4",
      area: "close",
      title: "close 1000, then a text message (not echoed)",
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: (p) =>
        p.send({
          opcode: Op.Close,
          payload: closePayload(CLOSE_CODES.NormalClosure),
        }, {
          opcode: Op.Text,
          payload: hello,
        }),
    },
    {
      id: "7.1.5",
      area: "close",
      title:
        "first fragment of a text, close 1000, then the last fragment (not echoed)",
      expect: { kind: "close", codes: [CLOSE_CODES.NormalClosure] },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: enc("fragment1"), fin: false },
          {
            opcode: Op.Close,
            payload: closePayload(CLOSE_CODES.NormalClosure),
          },
          { opcode: Op.Continuation, payload: enc("fragment2") },
        ),
    },
    {
      id: "7.1.6",
      area: "close",
      title:
        "256 KiB text, close 1000 and a ping in one write (echo may or may not come first)",
      expect: { kind: "info" },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: payload(Op.Text, 256 * 1024) },
          {
            opcode: Op.Close,
            payload: closePayload(CLOSE_CODES.NormalClosure),
          },
          { opcode: Op.Ping, payload: hello },
        ),
    },
    closeWith(
      "7.2.1",
      "close without payload (answered without a code or with 1000)",
      new Uint8Array(0),
      [
        CLOSE_CODES.NormalClosure,
        NO_CODE,
      ],
    ),
    closeWith("7.2.2", "close with a 1-byte payload", new Uint8Array([0x03]), [
      CLOSE_CODES.ProtocolError,
    ]),
    closeWith(
      "7.2.3",
      "close 1000 without reason",
      closePayload(CLOSE_CODES.NormalClosure),
      [
        CLOSE_CODES.NormalClosure,
      ],
    ),
    closeWith(
      "7.2.4",
      "close 1000 with reason 'Hello World!'",
      closePayload(CLOSE_CODES.NormalClosure, "Hello World!"),
      [
        CLOSE_CODES.NormalClosure,
      ],
    ),
    closeWith(
      "7.2.5",
      "close 1000 with a 123-byte reason",
      closePayload(CLOSE_CODES.NormalClosure, ascii(123)),
      [CLOSE_CODES.NormalClosure],
    ),
    closeWith(
      "7.2.6",
      "close 1000 with a 124-byte reason (126-byte control frame)",
      closePayload(CLOSE_CODES.NormalClosure, ascii(124)),
      [CLOSE_CODES.ProtocolError],
    ),
    closeWith(
      "7.2.7",
      "close 1000 with a 123-byte reason of 3-byte characters",
      closePayload(CLOSE_CODES.NormalClosure, "€".repeat(41)),
      [CLOSE_CODES.NormalClosure],
    ),
    closeWith(
      "7.3.1",
      "close 1000 with a reason that is not valid UTF-8 (a surrogate)",
      concat(
        closePayload(CLOSE_CODES.NormalClosure),
        hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"),
      ),
      [CLOSE_CODES.InvalidPayload],
    ),
    closeWith(
      "7.3.2",
      "close 1000 with a reason that ends inside a character",
      concat(closePayload(CLOSE_CODES.NormalClosure), hex("61 62 e2 82")),
      [CLOSE_CODES.InvalidPayload],
    ),
  ];
  [1, 60, 122].forEach((n, i) => {
    cases.push(
      closeWith(
        `7.2.8.${i + 1}`,
        `close 1000 with a ${n}-byte reason`,
        closePayload(CLOSE_CODES.NormalClosure, ascii(n)),
        [
          CLOSE_CODES.NormalClosure,
        ],
      ),
    );
  });
  VALID_CLOSE_CODES.forEach((code, i) => {
    cases.push(
      closeWith(
        `7.4.${i + 1}`,
        `close with valid code ${code} (echoed, or 1000)`,
        closePayload(code, "bye"),
        [
          code,
          CLOSE_CODES.NormalClosure,
        ],
      ),
    );
  });
  INVALID_CLOSE_CODES.forEach((code, i) => {
    const bytes = new Uint8Array([code >> 8, code & 0xff]);
    cases.push(
      closeWith(`7.5.${i + 1}`, `close with invalid code ${code}`, bytes, [
        CLOSE_CODES.ProtocolError,
      ]),
    );
  });
  return cases;
}

function closeWith(
  id: string,
  title: string,
  body: Uint8Array,
  codes: number[],
): Case {
  return {
    id,
    area: "close",
    title,
    expect: { kind: "close", codes },
    run: (p) => p.send({ opcode: Op.Close, payload: body }),
  };
}
