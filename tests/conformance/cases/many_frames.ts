/**
 * Many small frames: 1000 messages back to back, pipelined, and round trips.
 *
 * @module
 */

import type { Case, Expected } from "../_case.ts";
import { Op } from "../../_wire.ts";
import { echoOf, payload, sendMessage } from "./_helpers.ts";

const SIZES = [0, 16, 64, 256, 1024, 4096];
const COUNT = 1000;

function messages(
  opcode: number,
  size: number,
  count: number,
): { data: Uint8Array[]; expected: Expected[] } {
  const base = payload(opcode, size + count);
  const data = Array.from(
    { length: count },
    (_, i) => base.subarray(i, i + size),
  );
  return { data, expected: data.map((d) => echoOf(opcode, d)) };
}

/** The many-small-frames cases. */
export function manyFrameCases(): Case[] {
  const cases: Case[] = [];
  [Op.Text, Op.Binary].forEach((opcode, k) => {
    const name = opcode === Op.Text ? "text" : "binary";
    SIZES.forEach((size, i) => {
      const { data, expected } = messages(opcode, size, COUNT);
      cases.push({
        id: `9.${k + 1}.${i + 1}`,
        area: "many small frames",
        title:
          `${COUNT} ${name} messages of ${size} bytes, pipelined in one write`,
        expect: { kind: "echo", events: expected },
        waitMs: 10_000,
        run: (p) => p.send(...data.map((d) => ({ opcode, payload: d }))),
      });
    });
  });
  const single = messages(Op.Binary, 1, COUNT);
  cases.push({
    id: "9.3.1",
    area: "many small frames",
    title: `${COUNT} one-byte binary messages, each in its own TCP write`,
    expect: { kind: "echo", events: single.expected },
    waitMs: 10_000,
    run: async (p) => {
      for (const d of single.data) {
        await p.send({ opcode: Op.Binary, payload: d });
      }
    },
  });
  const trips = messages(Op.Text, 64, 100);
  cases.push({
    id: "9.3.2",
    area: "many small frames",
    title:
      "100 round trips of a 64-byte text message (send, wait for the echo)",
    expect: { kind: "echo", events: trips.expected },
    waitMs: 10_000,
    run: async (p) => {
      for (let i = 0; i < trips.data.length; i++) {
        await sendMessage(p, Op.Text, trips.data[i]);
        if (!await p.waitEvents(i + 1, 2000)) return;
      }
    },
  });
  return cases;
}
