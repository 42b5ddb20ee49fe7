/**
 * permessage-deflate (RFC 7692): every parameter combination offered (testing a
 * server) or answered (testing a client), invalid offers and answers, fragmented
 * compressed messages, context takeover, RSV1 misuse and decompression bombs.
 *
 * @module
 */

import type { Case, DeflateSetup, Expected } from "../_case.ts";
import { textEvent } from "../_case.ts";
import { compressAlone, compressFinal, compressStored } from "../_deflate.ts";
import type { Peer } from "../_peer.ts";
import { CLOSE_CODES, concat, enc, hex, Op, Rsv } from "../../_wire.ts";
import { asciiText, pseudoRandom } from "../_data.ts";
import {
  echoOf,
  framesOfSize,
  payload,
  sendMessage,
  type SuiteProfile,
  waitFor,
} from "./_helpers.ts";

const hello = enc("Hello, compressed world! Hello, compressed world!");

/** Messages that exercise a negotiated context: repeats, binary, empty, 64 KiB. */
const EXCHANGE: [number, Uint8Array][] = [
  [Op.Text, hello],
  [Op.Text, hello],
  [Op.Text, hello],
  [Op.Binary, pseudoRandom(1000, 3)],
  [Op.Text, new Uint8Array(0)],
  [Op.Text, asciiText(64 * 1024)],
  [Op.Binary, asciiText(3000)],
  // A repeat 3000 bytes back: only a window of 12 bits or more can reach it.
  [Op.Binary, concat(pseudoRandom(3000, 5), pseudoRandom(3000, 5))],
];
const EXCHANGE_ECHO: Expected[] = EXCHANGE.map(([op, d]) => echoOf(op, d));

async function exchange(p: Peer): Promise<void> {
  for (const [op, d] of EXCHANGE) await sendMessage(p, op, d);
}

function negotiation(
  id: string,
  title: string,
  deflate: DeflateSetup,
  testee: "client" | "server",
): Case {
  return {
    id,
    area: "compression",
    title,
    testee: [testee],
    deflate,
    expect: { kind: "echo", events: EXCHANGE_ECHO },
    run: exchange,
  };
}

const PMD = "permessage-deflate";

function offerCases(): Case[] {
  const offers: [string, DeflateSetup["require"]][] = [
    [PMD, "yes"],
    [`${PMD}; client_max_window_bits`, "yes"],
    [`${PMD}; client_no_context_takeover`, "yes"],
    [`${PMD}; server_no_context_takeover`, "optional"],
    [
      `${PMD}; server_no_context_takeover; client_no_context_takeover`,
      "optional",
    ],
    ...[8, 9, 10, 12, 14, 15].map((
      n,
    ): [string, "optional"] => [
      `${PMD}; server_max_window_bits=${n}`,
      "optional",
    ]),
    ...[8, 9, 12, 15].map((
      n,
    ): [string, "optional"] => [
      `${PMD}; client_max_window_bits=${n}`,
      "optional",
    ]),
    [
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15`,
      "optional",
    ],
    [`${PMD}; server_max_window_bits=10, ${PMD}`, "yes"],
    [`${PMD}; client_max_window_bits="12"`, "optional"],
    // The windows not listed above, and small windows for both sides at once.
    ...[11, 13].map((n): [string, "optional"] => [
      `${PMD}; server_max_window_bits=${n}`,
      "optional",
    ]),
    [`${PMD}; server_max_window_bits=9; client_max_window_bits=10`, "optional"],
    [
      `${PMD}; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits`,
      "optional",
    ],
  ];
  return offers.map(([offer, require], i) =>
    negotiation(`10.1.${i + 1}`, `offer "${offer}", then 8 messages`, {
      offer,
      require,
    }, "server")
  );
}

function answerCases(): Case[] {
  const wishes: [string, DeflateSetup["wish"]][] = [
    ["no parameters", {}],
    ["server_no_context_takeover", { serverNoContextTakeover: true }],
    ["client_no_context_takeover", { clientNoContextTakeover: true }],
    ["both no_context_takeover", {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    }],
    ...[8, 9, 12, 15].map((
      n,
    ): [string, DeflateSetup["wish"]] => [`server_max_window_bits=${n}`, {
      serverMaxWindowBits: n,
    }]),
    ...[9, 12, 15].map((
      n,
    ): [string, DeflateSetup["wish"]] => [`client_max_window_bits=${n}`, {
      clientMaxWindowBits: n,
    }]),
    ["all four parameters", {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 10,
    }],
  ];
  return wishes.map(([what, wish], i) =>
    negotiation(`10.2.${i + 1}`, `accept with ${what}, then 8 messages`, {
      wish,
      require: "yes",
    }, "client")
  );
}

function invalidOfferCases(): Case[] {
  const offers = [
    `${PMD}; foo=1`,
    `${PMD}; server_max_window_bits=7`,
    `${PMD}; server_max_window_bits=16`,
    `${PMD}; server_max_window_bits`,
    `${PMD}; client_max_window_bits=0`,
    `${PMD}; client_max_window_bits=abc`,
    `${PMD}; server_no_context_takeover; server_no_context_takeover`,
    `${PMD}; server_no_context_takeover=1`,
  ];
  return offers.map((offer, i) => ({
    ...negotiation(
      `10.3.${i + 1}`,
      `invalid offer "${offer}" (must be declined), then 8 messages uncompressed`,
      { offer, require: "decline" },
      "server",
    ),
  }));
}

function invalidAnswerCases(): Case[] {
  const answers = [
    `${PMD}; foo=1`,
    `${PMD}; server_max_window_bits=7`,
    `${PMD}; server_max_window_bits=16`,
    `${PMD}; server_no_context_takeover=1`,
    `${PMD}; client_max_window_bits=7`,
    "x-unknown-extension",
  ];
  return answers.map((answer, i) => ({
    id: `10.4.${i + 1}`,
    area: "compression" as const,
    title: `invalid answer "${answer}": the client must fail the connection`,
    testee: ["client" as const],
    deflate: { rawAnswer: answer, require: "optional" as const },
    expect: {
      kind: "close" as const,
      codes: [CLOSE_CODES.ProtocolError, CLOSE_CODES.MandatoryExtension],
      dropOk: true,
    },
    run: (p: Peer) => p.send({ opcode: Op.Text, payload: hello }),
  }));
}

function common(
  id: string,
  title: string,
  expect: Case["expect"],
  run: Case["run"],
  waitMs?: number,
): Case {
  return {
    id,
    area: "compression",
    title,
    deflate: { require: "yes" },
    expect,
    run,
    waitMs,
  };
}

function commonCases(profile: SuiteProfile): Case[] {
  const big = asciiText(64 * 1024);
  const many = Array.from(
    { length: 100 },
    (_, i) => asciiText(16 + ((i * 397) % 4080)),
  );
  const bomb = () =>
    compressAlone(new Uint8Array(profile.readLimit + (1 << 20)));
  const oneMiBText = payload(Op.Text, 1 << 20);
  const oneMiBRandom = pseudoRandom(1 << 20, 99);
  const protocolError = {
    kind: "close" as const,
    codes: [CLOSE_CODES.ProtocolError],
  };
  return [
    common("10.5.1", "compressed text message", {
      kind: "echo",
      events: [textEvent(hello)],
    }, (p) => sendMessage(p, Op.Text, hello)),
    common(
      "10.5.2",
      "empty message compressed (payload 0x00, RFC 7692 §7.2.3.6)",
      { kind: "echo", events: [textEvent("")] },
      (p) => p.send({ opcode: Op.Text, rsv: Rsv.Rsv1, payload: hex("00") }),
    ),
    common(
      "10.5.3",
      "RSV1 text frame with an empty payload",
      { kind: "echo", events: [textEvent("")] },
      (p) => p.send({ opcode: Op.Text, rsv: Rsv.Rsv1 }),
    ),
    common(
      "10.5.4",
      "the same text 5 times (context takeover shrinks the repeats)",
      { kind: "echo", events: Array(5).fill(textEvent(hello)) },
      async (p) => {
        for (let i = 0; i < 5; i++) await sendMessage(p, Op.Text, hello);
      },
    ),
    common(
      "10.5.5",
      "64 KiB compressed text in 10 frames (RSV1 on the first only)",
      { kind: "echo", events: [textEvent(big)] },
      (p) => sendMessage(p, Op.Text, big, { fragments: 10 }),
    ),
    common(
      "10.5.6",
      "compressed text in one-byte frames",
      { kind: "echo", events: [textEvent(asciiText(300))] },
      (p) => sendMessage(p, Op.Text, asciiText(300), { fragmentSize: 1 }),
    ),
    common(
      "10.5.7",
      "message ending in a final (BFINAL) block, RFC 7692 §7.2.3.4",
      { kind: "echo", events: [textEvent(hello)] },
      (p) =>
        p.send({
          opcode: Op.Text,
          rsv: Rsv.Rsv1,
          payload: compressFinal(hello),
        }),
    ),
    common(
      "10.5.8",
      "message made of stored (uncompressed) DEFLATE blocks, RFC 7692 §7.2.3.3",
      { kind: "echo", events: [textEvent(hello)] },
      (p) =>
        p.send({
          opcode: Op.Text,
          rsv: Rsv.Rsv1,
          payload: compressStored(hello),
        }),
    ),
    common(
      "10.5.9",
      "uncompressed text (RSV1 clear) between two compressed ones",
      {
        kind: "echo",
        events: [textEvent(hello), textEvent("plain"), textEvent(hello)],
      },
      async (p) => {
        await sendMessage(p, Op.Text, hello);
        await sendMessage(p, Op.Text, enc("plain"), { compress: false });
        await sendMessage(p, Op.Text, hello);
      },
    ),
    common(
      "10.5.10",
      "RSV1 on a continuation frame",
      protocolError,
      async (p) => {
        const z = await p.compress(big);
        const frames = framesOfSize(
          Op.Text,
          z,
          Math.ceil(z.length / 2),
          Rsv.Rsv1,
        );
        frames[1].rsv = Rsv.Rsv1;
        await p.send(...frames);
      },
    ),
    common(
      "10.5.11",
      "RSV1 on a ping",
      protocolError,
      (p) => p.send({ opcode: Op.Ping, rsv: Rsv.Rsv1, payload: hello }),
    ),
    common(
      "10.5.12",
      "RSV1+RSV2 on a compressed text",
      protocolError,
      async (p) =>
        p.send({
          opcode: Op.Text,
          rsv: Rsv.Rsv1 | Rsv.Rsv2,
          payload: await p.compress(hello),
        }),
    ),
    common(
      "10.5.13",
      `decompression bomb: ${
        profile.readLimit + (1 << 20)
      } zero bytes in one compressed frame`,
      { kind: "close", codes: [CLOSE_CODES.MessageTooBig] },
      (p) => p.send({ opcode: Op.Binary, rsv: Rsv.Rsv1, payload: bomb() }),
      waitFor(profile.readLimit),
    ),
    common(
      "10.5.14",
      "decompression bomb in 4 fragments",
      { kind: "close", codes: [CLOSE_CODES.MessageTooBig] },
      (p) => {
        const z = bomb();
        return p.send(
          ...framesOfSize(Op.Binary, z, Math.ceil(z.length / 4), Rsv.Rsv1),
        );
      },
      waitFor(profile.readLimit),
    ),
    common(
      "10.5.15",
      "compressed payload that is not valid DEFLATE data",
      {
        kind: "close",
        codes: [CLOSE_CODES.ProtocolError, CLOSE_CODES.InvalidPayload],
      },
      (p) =>
        p.send({
          opcode: Op.Binary,
          rsv: Rsv.Rsv1,
          payload: hex("ff ff ff ff"),
        }),
    ),
    common(
      "10.5.16",
      "compressed text that inflates to invalid UTF-8",
      { kind: "close", codes: [CLOSE_CODES.InvalidPayload] },
      (p) => sendMessage(p, Op.Text, hex("ce ba e1 bd b9 ed a0 80 65 64")),
    ),
    common(
      "10.5.17",
      "100 compressed texts of 16..4096 bytes, pipelined",
      { kind: "echo", events: many.map((d) => textEvent(d)) },
      async (p) => {
        for (const d of many) await sendMessage(p, Op.Text, d);
      },
      10_000,
    ),
    common(
      "10.5.18",
      "1 MiB of text, compressed",
      { kind: "echo", events: [textEvent(oneMiBText)] },
      (p) => sendMessage(p, Op.Text, oneMiBText),
      waitFor(1 << 20),
    ),
    common(
      "10.5.19",
      "1 MiB of random bytes, compressed (incompressible)",
      { kind: "echo", events: [echoOf(Op.Binary, oneMiBRandom)] },
      (p) => sendMessage(p, Op.Binary, oneMiBRandom),
      waitFor(1 << 20),
    ),
  ];
}

/** The compression cases. */
export function compressionCases(profile: SuiteProfile): Case[] {
  return [
    ...offerCases(),
    ...answerCases(),
    ...invalidOfferCases(),
    ...invalidAnswerCases(),
    ...commonCases(profile),
  ];
}
