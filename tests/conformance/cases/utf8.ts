/**
 * UTF-8 in text messages (RFC 6455 §8.1, RFC 3629): valid and invalid sequences
 * whole, in two fragments and one byte per fragment, and failing fast at the
 * first invalid byte.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { pongEvent, textEvent } from "../_case.ts";
import { CLOSE_CODES, concat, enc, hex, Op } from "../../_wire.ts";
import type { FrameSpec } from "../_peer.ts";
import type { SuiteProfile } from "./_helpers.ts";
import { failFast } from "./_helpers.ts";

/** A byte sequence and whether it is well-formed UTF-8. */
interface Sample {
  name: string;
  bytes: Uint8Array;
  valid: boolean;
}

const ok = (name: string, bytes: string | Uint8Array): Sample => ({
  name,
  bytes: typeof bytes === "string" ? enc(bytes) : bytes,
  valid: true,
});
const bad = (name: string, h: string): Sample => ({
  name,
  bytes: hex(h),
  valid: false,
});

/** The samples, after the sections of Markus Kuhn's UTF-8 decoder stress test. */
export const SAMPLES: Sample[] = [
  ok("Latin-1 and ASCII mix", "Hello-µ@ßöäüàá-UTF-8!!"),
  ok("Greek 'kosme'", "κόσμε"),
  ok("first 1-byte sequence U+0000", hex("00")),
  ok("first 2-byte sequence U+0080", hex("c2 80")),
  ok("first 3-byte sequence U+0800", hex("e0 a0 80")),
  ok("first 4-byte sequence U+10000", hex("f0 90 80 80")),
  ok("last 1-byte sequence U+007F", hex("7f")),
  ok("last 2-byte sequence U+07FF", hex("df bf")),
  ok("last 3-byte sequence U+FFFF", hex("ef bf bf")),
  ok("U+D7FF before the surrogates", hex("ed 9f bf")),
  ok("U+E000 after the surrogates", hex("ee 80 80")),
  ok("U+FFFD replacement character", hex("ef bf bd")),
  ok("U+10FFFF the last code point", hex("f4 8f bf bf")),
  ok("noncharacter U+FFFE", hex("ef bf be")),
  ok("noncharacter U+1FFFF", hex("f0 9f bf bf")),
  ok("byte order mark U+FEFF first", hex("ef bb bf 41")),
  ok("emoji outside the BMP", "😀 and 𝄞"),
  bad("U+110000 above the last code point", "f4 90 80 80"),
  bad("4-byte form above U+10FFFF", "f7 bf bf bf"),
  bad("F5 lead byte", "f5 80 80 80"),
  bad("5-byte sequence", "f8 88 80 80 80"),
  bad("6-byte sequence", "fc 84 80 80 80 80"),
  bad("last 5-byte sequence", "fb bf bf bf bf"),
  bad("last 6-byte sequence", "fd bf bf bf bf bf"),
  bad("lone continuation 0x80", "80"),
  bad("lone continuation 0xBF", "bf"),
  bad("three continuations", "80 bf 80"),
  bad("2-byte lead followed by a space", "c2 20"),
  bad("3-byte lead followed by a space", "e0 20"),
  bad("4-byte lead followed by a space", "f0 20"),
  bad("2-byte sequence missing its last byte", "41 c2"),
  bad("3-byte sequence missing its last byte", "41 e0 a0"),
  bad("4-byte sequence missing its last byte", "41 f0 90 80"),
  bad("concatenated incomplete sequences", "c2 e0 a0 f0 90 80"),
  bad("impossible byte FE", "fe"),
  bad("impossible byte FF", "ff"),
  bad("impossible bytes FE FE FF FF", "fe fe ff ff"),
  bad("overlong '/' in 2 bytes", "c0 af"),
  bad("overlong '/' in 3 bytes", "e0 80 af"),
  bad("overlong '/' in 4 bytes", "f0 80 80 af"),
  bad("overlong '/' in 5 bytes", "f8 80 80 80 af"),
  bad("maximum overlong 2-byte", "c1 bf"),
  bad("maximum overlong 3-byte", "e0 9f bf"),
  bad("maximum overlong 4-byte", "f0 8f bf bf"),
  bad("overlong NUL in 2 bytes", "c0 80"),
  bad("overlong NUL in 3 bytes", "e0 80 80"),
  bad("high surrogate U+D800", "ed a0 80"),
  bad("high surrogate U+DB7F", "ed ad bf"),
  bad("low surrogate U+DC00", "ed b0 80"),
  bad("low surrogate U+DFFF", "ed bf bf"),
  bad("surrogate pair U+D800 U+DC00", "ed a0 80 ed b0 80"),
  bad(
    "valid text then a surrogate",
    "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
  ),
];

/** The UTF-8 cases. */
export function utf8Cases(profile: SuiteProfile): Case[] {
  const cases: Case[] = [];
  SAMPLES.forEach((s, i) => {
    const expect = s.valid
      ? { kind: "echo" as const, events: [textEvent(s.bytes)] }
      : { kind: "close" as const, codes: [CLOSE_CODES.InvalidPayload] };
    const what = `${s.valid ? "valid" : "invalid"}: ${s.name} (${
      hexOf(s.bytes)
    })`;
    cases.push({
      id: `6.${i + 1}.1`,
      area: "utf-8",
      title: `${what}, one frame`,
      expect,
      run: (p) => p.send({ opcode: Op.Text, payload: s.bytes }),
    });
    if (s.bytes.length < 2) return;
    const mid = s.bytes.length >> 1;
    cases.push({
      id: `6.${i + 1}.2`,
      area: "utf-8",
      title: `${what}, two fragments split at byte ${mid}`,
      expect,
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: s.bytes.subarray(0, mid), fin: false },
          { opcode: Op.Continuation, payload: s.bytes.subarray(mid) },
        ),
    });
    cases.push({
      id: `6.${i + 1}.3`,
      area: "utf-8",
      title: `${what}, one fragment per byte`,
      expect,
      run: (p) => p.send(...perByte(s.bytes)),
    });
  });
  cases.push(
    ...failFastCases(profile, SAMPLES.length + 1),
    ...splitWithPing(SAMPLES.length + 2),
  );
  return cases;
}

function perByte(bytes: Uint8Array): FrameSpec[] {
  return [...bytes].map((_, i) => ({
    opcode: i === 0 ? Op.Text : Op.Continuation,
    payload: bytes.subarray(i, i + 1),
    fin: i === bytes.length - 1,
  }));
}

function hexOf(bytes: Uint8Array): string {
  const shown = [...bytes.subarray(0, 12)].map((b) =>
    b.toString(16).padStart(2, "0")
  ).join(" ");
  return bytes.length > 12 ? `${shown} …` : shown;
}

/** Invalid sequences, cut at the byte where a validator must fail. */
const FAIL_AT: { name: string; good: string; bad: string }[] = [
  {
    name: "code point above U+10FFFF (F4 90)",
    good: "ce ba e1 bd b9 cf 83 ce bc ce b5 f4",
    bad: "90",
  },
  { name: "surrogate U+D800 (ED A0)", good: "48 65 6c 6c 6f ed", bad: "a0" },
  { name: "overlong (C0)", good: "48 65 6c 6c 6f", bad: "c0" },
  { name: "5-byte lead (F8)", good: "48 65 6c 6c 6f", bad: "f8" },
  { name: "lone continuation (80)", good: "48 65 6c 6c 6f", bad: "80" },
];

function failFastCases(profile: SuiteProfile, section: number): Case[] {
  const cases: Case[] = [];
  const tail = enc("edited text after the invalid byte");
  const expect = {
    kind: "close" as const,
    codes: [CLOSE_CODES.InvalidPayload],
    failFast: true,
  };
  FAIL_AT.forEach((f, i) => {
    const head = concat(hex(f.good), hex(f.bad));
    cases.push({
      id: `6.${section}.${2 * i + 1}`,
      area: "utf-8",
      title:
        `fail fast across fragments: ${f.name} ends the first fragment; the rest is held back`,
      expect,
      run: (p) =>
        failFast(
          p,
          [{ opcode: Op.Text, payload: head, fin: false }],
          [{ opcode: Op.Continuation, payload: tail }],
          profile.failFastMs,
        ),
    });
    cases.push({
      id: `6.${section}.${2 * i + 2}`,
      area: "utf-8",
      title:
        `fail fast inside one frame: ${f.name}; the frame's remaining bytes are held back`,
      expect,
      run: (p) => {
        const whole = concat(head, tail, new Uint8Array(4096).fill(0x41));
        const bytes = p.frame({ opcode: Op.Text, payload: whole });
        const cut = bytes.length - whole.length + head.length;
        return failFast(
          p,
          bytes.subarray(0, cut),
          bytes.subarray(cut),
          profile.failFastMs,
        );
      },
    });
  });
  return cases;
}

/** Multi-byte characters split across fragments with a ping between the halves. */
function splitWithPing(section: number): Case[] {
  const samples: [string, Uint8Array, boolean][] = [
    ["4-byte character U+1F600 split after its 2nd byte", enc("a😀b"), true],
    ["3-byte character U+20AC split after its 1st byte", enc("x€y"), true],
    ["surrogate U+D800 split after ED", hex("61 ed a0 80 62"), false],
  ];
  return samples.map(([name, bytes, valid], i) => {
    const cut = valid ? (i === 0 ? 3 : 2) : 2;
    const ping = enc("ping");
    return {
      id: `6.${section}.${i + 1}`,
      area: "utf-8" as const,
      title: `${name}, with a ping between the fragments`,
      expect: valid
        ? { kind: "echo" as const, events: [pongEvent(ping), textEvent(bytes)] }
        : {
          kind: "close" as const,
          codes: [CLOSE_CODES.InvalidPayload],
          before: [pongEvent(ping)],
        },
      run: (p) =>
        p.send(
          { opcode: Op.Text, payload: bytes.subarray(0, cut), fin: false },
          { opcode: Op.Ping, payload: ping },
          { opcode: Op.Continuation, payload: bytes.subarray(cut) },
        ),
    };
  });
}
