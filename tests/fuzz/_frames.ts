/**
 * Frame streams for the fuzzer: valid streams built from messages, fragments,
 * control frames and compressed messages; structured and byte-level mutations;
 * and a reference reader, written apart from `src/`, that says what a
 * connection must do with any byte stream.
 *
 * @module
 */

import { constants, deflateRawSync } from "node:zlib";
import {
  CLOSE_CODES,
  concat,
  enc,
  encodeFrame,
  isValidCloseCode,
} from "../_wire.ts";
import type { Rng } from "./_rng.ts";

/** One frame before encoding; mutations edit these fields. */
export interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** A length field that disagrees with the payload (a mutation). */
  lengthOverride?: bigint;
  /** The length form to use (7, 16 or 64 bits), when not minimal. */
  form?: 7 | 16 | 64;
}

/**
 * Encodes frames with the shared wire toolkit; masked frames get a key drawn
 * from `rng`. A 16-bit length field keeps the low 16 bits of an override that
 * does not fit, as a corrupted header would.
 */
export function encodeFrames(rng: Rng, frames: FrameSpec[]): Uint8Array {
  return concat(...frames.map((f) => {
    const length = f.lengthOverride ?? BigInt(f.payload.length);
    const form = f.form ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
    return encodeFrame({
      fin: f.fin,
      rsv: f.rsv,
      opcode: f.opcode,
      payload: f.payload,
      mask: f.masked ? rng.bytes(4) : undefined,
      lengthForm: form,
      length: form === 16 ? length & 0xffffn : length,
    });
  }));
}

/**
 * The close codes valid streams end with: the ones an application sends, and
 * the edges of the private range.
 */
const SENT_CLOSE_CODES = [
  CLOSE_CODES.NormalClosure,
  CLOSE_CODES.GoingAway,
  CLOSE_CODES.ProtocolError,
  CLOSE_CODES.UnsupportedData,
  CLOSE_CODES.InvalidPayload,
  CLOSE_CODES.PolicyViolation,
  CLOSE_CODES.MessageTooBig,
  CLOSE_CODES.MandatoryExtension,
  CLOSE_CODES.InternalError,
  3000,
  4999,
];

/** Compresses one message as permessage-deflate does: sync flush, tail removed. */
export function compress(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/**
 * Builds a valid stream as a peer of the given role would send it: data messages
 * (some fragmented, some compressed when `deflate`), pings, pongs, and sometimes a
 * closing frame at the end.
 */
export function validStream(
  rng: Rng,
  peerMasks: boolean,
  deflate: boolean,
): FrameSpec[] {
  const frames: FrameSpec[] = [];
  const count = rng.range(1, 6);
  const control = (opcode: number) =>
    frames.push({
      fin: true,
      rsv: 0,
      opcode,
      masked: peerMasks,
      payload: rng.bytes(rng.int(126)),
    });
  for (let i = 0; i < count; i++) {
    const r = rng.next();
    if (r < 0.15) {
      control(rng.chance(0.7) ? 0x9 : 0xa);
      continue;
    }
    const isText = rng.chance(0.5);
    let data = isText
      ? enc(rng.text(rng.length() >> 1))
      : rng.bytes(rng.length());
    let rsv = 0;
    if (deflate && rng.chance(0.5)) {
      if (rng.chance(0.2)) data = new Uint8Array(rng.length() * 4); // compresses well
      data = compress(data);
      rsv = 0x40;
    }
    const pieces = rng.chance(0.3) ? rng.range(2, 5) : 1;
    const cuts = [0];
    for (let p = 1; p < pieces; p++) cuts.push(rng.int(data.length + 1));
    cuts.sort((a, b) => a - b);
    cuts.push(data.length);
    for (let p = 0; p < pieces; p++) {
      frames.push({
        fin: p === pieces - 1,
        rsv: p === 0 ? rsv : 0,
        opcode: p === 0 ? (isText ? 0x1 : 0x2) : 0x0,
        masked: peerMasks,
        payload: data.subarray(cuts[p], cuts[p + 1]),
      });
      if (p < pieces - 1 && rng.chance(0.3)) control(0x9);
    }
  }
  if (rng.chance(0.4)) {
    const r = rng.int(4);
    const payload = r === 0 ? new Uint8Array(0) : new Uint8Array([
      ...(() => {
        const c = rng.pick(SENT_CLOSE_CODES);
        return [c >> 8, c & 0xff];
      })(),
      ...enc(rng.text(rng.int(30))).subarray(0, 100),
    ]);
    frames.push({ fin: true, rsv: 0, opcode: 0x8, masked: peerMasks, payload });
  }
  return frames;
}

/** Edits frame fields: opcode, RSV, FIN, mask bit, length fields and order. */
export function mutateFrames(rng: Rng, frames: FrameSpec[]): void {
  const n = rng.range(1, 3);
  for (let k = 0; k < n && frames.length > 0; k++) {
    const f = frames[rng.int(frames.length)];
    switch (rng.int(9)) {
      case 0:
        f.opcode = rng.int(16);
        break;
      case 1:
        f.rsv = rng.pick([0x10, 0x20, 0x40, 0x70]);
        break;
      case 2:
        f.fin = !f.fin;
        break;
      case 3:
        f.masked = !f.masked;
        break;
      case 4:
        f.lengthOverride = rng.pick([
          BigInt(f.payload.length + rng.range(1, 10)),
          BigInt(Math.max(0, f.payload.length - rng.range(1, 10))),
          126n,
          65536n,
          2n ** 53n + 1n,
          2n ** 63n,
          2n ** 64n - 1n,
          BigInt(rng.range(0, 2 ** 31)),
        ]);
        break;
      case 5:
        f.form = rng.pick([16, 64] as const);
        break;
      case 6:
        frames.splice(rng.int(frames.length), 0, { ...f });
        break;
      case 7:
        frames.splice(rng.int(frames.length), 1);
        break;
      case 8: {
        // A close frame with any code, or a 1-byte payload, or bad UTF-8.
        const code = rng.int(5000);
        const payload = rng.pick([
          new Uint8Array([code >> 8, code & 0xff]),
          new Uint8Array([3]),
          new Uint8Array([0x03, 0xe8, 0xc0, 0xaf]),
        ]);
        frames.splice(rng.int(frames.length + 1), 0, {
          fin: true,
          rsv: 0,
          opcode: 0x8,
          masked: f.masked,
          payload,
        });
      }
    }
  }
}

/** Byte-level mutations: bit flips, byte sets, truncation, splices, garbage. */
export function mutateBytes(
  rng: Rng,
  bytes: Uint8Array,
  donor: Uint8Array,
): Uint8Array {
  let out = bytes;
  const n = rng.range(1, 4);
  for (let k = 0; k < n; k++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(6)) {
      case 0:
        if (out.length > 0) {
          out = out.slice();
          out[Math.min(at, out.length - 1)] ^= 1 << rng.int(8);
        }
        break;
      case 1:
        if (out.length > 0) {
          out = out.slice();
          out[Math.min(at, out.length - 1)] = rng.int(256);
        }
        break;
      case 2:
        out = out.subarray(0, at);
        break;
      case 3: {
        const from = rng.int(donor.length + 1);
        const piece = donor.subarray(from, from + rng.range(1, 200));
        out = concat(out.subarray(0, at), piece, out.subarray(at));
        break;
      }
      case 4:
        out = concat(
          out.subarray(0, at),
          out.subarray(Math.min(out.length, at + rng.range(1, 20))),
        );
        break;
      case 5:
        out = concat(
          out.subarray(0, at),
          rng.bytes(rng.range(1, 16)),
          out.subarray(at),
        );
    }
  }
  return out;
}

/** The limits a connection under test runs with. */
export interface Limits {
  /** The role of the connection reading the stream. */
  role: "client" | "server";
  readLimit: number;
  maxFrameSize: number;
  maxFragments: number;
  /** The RSV bits allowed on a first frame. */
  rsvAllowed: number;
  /** The caller's buffer size when reads use one; messages larger fail with 1009. */
  bufferSize?: number;
}

/** What a reader must do with a stream. */
export interface Expected {
  /** Data messages delivered, in order (payloads still compressed with RSV1). */
  messages: { opcode: number; rsv: number; data: Uint8Array }[];
  /** Payloads of the pings that must be answered, in order. */
  pings: Uint8Array[];
  /**
   * How the stream ends: the peer's close (its code, 1005 for none), a failure with
   * the close code we send, or the end of the bytes (1006: nothing sent).
   */
  end:
    | { kind: "close"; code: number; reason: string }
    | { kind: "fail"; closeCode: number }
    | { kind: "eof" };
}

/**
 * Reads a stream the way RFC 6455 §5-7 requires, byte by byte and in order, and
 * says what a conforming reader must deliver and how it must end.
 */
export function reference(bytes: Uint8Array, limits: Limits): Expected {
  const messages: Expected["messages"] = [];
  const pings: Uint8Array[] = [];
  const fail = (closeCode: number): Expected => ({
    messages,
    pings,
    end: { kind: "fail", closeCode },
  });
  const eof = (): Expected => ({ messages, pings, end: { kind: "eof" } });
  let pos = 0;
  let inMessage = false;
  let msgOpcode = 0;
  let msgRsv = 0;
  let msgLength = 0;
  let fragments = 0;
  let parts: Uint8Array[] = [];
  let utf8: TextDecoder | null = null;
  for (;;) {
    if (bytes.length - pos < 2) return eof();
    const b0 = bytes[pos], b1 = bytes[pos + 1];
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) +
      (masked ? 4 : 0);
    if (bytes.length - pos < size) return eof();
    let length = BigInt(len7);
    if (len7 === 126) length = BigInt((bytes[pos + 2] << 8) | bytes[pos + 3]);
    if (len7 === 127) {
      length = 0n;
      for (let i = 0; i < 8; i++) {
        length = (length << 8n) | BigInt(bytes[pos + 2 + i]);
      }
      if (length >= 2n ** 63n) return fail(1002);
    }
    const key = masked ? bytes.subarray(pos + size - 4, pos + size) : null;
    pos += size;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0xf;
    if (masked !== (limits.role === "server")) return fail(1002);
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) return fail(1002);
    const control = opcode >= 8;
    if (control) {
      if (rsv !== 0 || !fin || length > 125n) return fail(1002);
    } else {
      if (opcode === 0) {
        if (!inMessage || rsv !== 0) return fail(1002);
        if (++fragments > limits.maxFragments) return fail(1009);
      } else {
        if (inMessage) return fail(1002);
        if ((rsv & ~limits.rsvAllowed) !== 0) return fail(1002);
        msgOpcode = opcode;
        msgRsv = rsv;
        msgLength = 0;
        fragments = 1;
        parts = [];
        utf8 = opcode === 1 && rsv === 0
          ? new TextDecoder("utf-8", { fatal: true })
          : null;
      }
      if (BigInt(msgLength) + length > BigInt(limits.readLimit)) {
        return fail(1009);
      }
      if (length > BigInt(limits.maxFrameSize)) return fail(1009);
      msgLength += Number(length);
      if (limits.bufferSize !== undefined && msgLength > limits.bufferSize) {
        return fail(1009);
      }
      inMessage = !fin;
    }
    const n = Number(length);
    const available = Math.min(n, bytes.length - pos);
    const payload = bytes.slice(pos, pos + available);
    if (key) {
      for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    }
    pos += available;
    if (!control) {
      if (utf8) {
        try {
          utf8.decode(payload, { stream: true });
        } catch {
          return fail(1007);
        }
      }
      if (available < n) return eof();
      parts.push(payload);
      if (fin) {
        if (utf8) {
          try {
            utf8.decode();
          } catch {
            return fail(1007);
          }
        }
        messages.push({
          opcode: msgOpcode,
          rsv: msgRsv,
          data: concat(...parts),
        });
      }
      continue;
    }
    if (available < n) return eof();
    if (opcode === 9) pings.push(payload);
    if (opcode === 8) {
      if (n === 1) return fail(1002);
      if (n === 0) {
        return {
          messages,
          pings,
          end: { kind: "close", code: 1005, reason: "" },
        };
      }
      const code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) return fail(1002);
      let reason: string;
      try {
        reason = new TextDecoder("utf-8", { fatal: true }).decode(
          payload.subarray(2),
        );
      } catch {
        return fail(1007);
      }
      return { messages, pings, end: { kind: "close", code, reason } };
    }
  }
}
