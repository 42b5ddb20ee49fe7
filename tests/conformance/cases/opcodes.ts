/**
 * Reserved opcodes (RFC 6455 §5.2): 3-7 (data) and 11-15 (control) must fail the
 * connection with 1002.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { textEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op } from "../../_wire.ts";

const RESERVED = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

/** The reserved-opcode cases. */
export function opcodeCases(): Case[] {
  const hello = enc("Hello, world!");
  const cases: Case[] = [];
  RESERVED.forEach((op, i) => {
    const kind = op < 8 ? "data" : "control";
    cases.push({
      id: `4.1.${i + 1}`,
      area: "opcodes",
      title: `reserved ${kind} opcode ${op}, empty`,
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: op }),
    });
    cases.push({
      id: `4.2.${i + 1}`,
      area: "opcodes",
      title:
        `valid text, reserved ${kind} opcode ${op} with payload, then a ping (not answered)`,
      expect: {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError],
        before: [textEvent(hello)],
      },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: hello },
          { opcode: op, payload: hello },
          { opcode: Op.Ping, payload: hello },
        ),
    });
  });
  return cases;
}
