/**
 * Reserved bits (RFC 6455 §5.2): RSV1-3 set without a negotiated extension must
 * fail the connection with 1002, on data and control frames alike.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { textEvent } from "../_case.ts";
import { CLOSE_CODES, enc, Op, Rsv } from "../../_wire.ts";

const hello = enc("Hello, world!");
const valid = () => textEvent(hello);

/** The reserved-bit cases. */
export function reservedBitCases(): Case[] {
  return [
    {
      id: "3.1",
      area: "reserved bits",
      title: "text frame with RSV1 set, no extension negotiated",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Text, payload: hello, rsv: Rsv.Rsv1 }),
    },
    {
      id: "3.2",
      area: "reserved bits",
      title: "valid text, then text with RSV2, then a ping (not answered)",
      expect: {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError],
        before: [valid()],
      },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: hello },
          { opcode: Op.Text, payload: hello, rsv: Rsv.Rsv2 },
          { opcode: Op.Ping, payload: hello },
        ),
    },
    {
      id: "3.3",
      area: "reserved bits",
      title:
        "valid text, then text with RSV1+RSV2, then a ping, in one TCP write",
      expect: {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError],
        before: [valid()],
      },
      run: (p) =>
        p.sendChopped([
          { opcode: Op.Text, payload: hello },
          { opcode: Op.Text, payload: hello, rsv: Rsv.Rsv1 | Rsv.Rsv2 },
          { opcode: Op.Ping, payload: hello },
        ], 1 << 20),
    },
    {
      id: "3.4",
      area: "reserved bits",
      title:
        "valid text, then text with RSV3, then a ping, one byte per TCP write",
      expect: {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError],
        before: [valid()],
      },
      run: (p) =>
        p.sendChopped([
          { opcode: Op.Text, payload: hello },
          { opcode: Op.Text, payload: hello, rsv: Rsv.Rsv3 },
          { opcode: Op.Ping, payload: hello },
        ], 1),
    },
    {
      id: "3.5",
      area: "reserved bits",
      title: "binary frame with RSV1+RSV3",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) =>
        p.send({
          opcode: Op.Binary,
          payload: new Uint8Array([0, 1, 2, 255]),
          rsv: Rsv.Rsv1 | Rsv.Rsv3,
        }),
    },
    {
      id: "3.6",
      area: "reserved bits",
      title: "ping with RSV2+RSV3",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) =>
        p.send({ opcode: Op.Ping, payload: hello, rsv: Rsv.Rsv2 | Rsv.Rsv3 }),
    },
    {
      id: "3.7",
      area: "reserved bits",
      title: "close with all three RSV bits set",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) =>
        p.send({
          opcode: Op.Close,
          payload: new Uint8Array([0x03, 0xe8]),
          rsv: Rsv.Rsv1 | Rsv.Rsv2 | Rsv.Rsv3,
        }),
    },
    {
      id: "3.8",
      area: "reserved bits",
      title: "pong with RSV1",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) => p.send({ opcode: Op.Pong, payload: hello, rsv: Rsv.Rsv1 }),
    },
    {
      id: "3.9",
      area: "reserved bits",
      title: "fragmented text whose continuation frame has RSV2",
      expect: { kind: "close", codes: [CLOSE_CODES.ProtocolError] },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: enc("first "), fin: false },
          { opcode: Op.Continuation, payload: enc("second"), rsv: Rsv.Rsv2 },
        ),
    },
  ];
}
