/**
 * Building blocks shared by the case tables.
 *
 * @module
 */

import type { Expected } from "../_case.ts";
import { binaryEvent, textEvent } from "../_case.ts";
import { type FrameSpec, type Peer, sleep } from "../_peer.ts";
import { enc, Op, Rsv } from "../../_wire.ts";
import { asciiText, pseudoRandom } from "../_data.ts";

/** Sizes of the suite that depend on the testee. */
export interface SuiteProfile {
  /** The testee's read limit: messages above it must be refused with 1009. */
  readLimit: number;
  /** How long to wait, in a fail-fast case, before completing the message. */
  failFastMs: number;
}

/** The profile of the project's echo server and client. */
export const DEFAULT_PROFILE: SuiteProfile = {
  readLimit: 16 * 1024 * 1024,
  failFastMs: 500,
};

/** How to send a message. */
export interface SendOptions {
  /** Number of frames; 1 by default. */
  fragments?: number;
  /** Frame size in bytes (instead of `fragments`). */
  fragmentSize?: number;
  /** TCP write size; everything in one write by default. */
  chop?: number;
  /** Compress with the negotiated context; by default when deflate was negotiated. */
  compress?: boolean;
}

/** Splits `data` into frame specs of one message. */
export function fragmentFrames(
  opcode: number,
  data: Uint8Array,
  pieces: number,
  rsv = 0,
): FrameSpec[] {
  const size = Math.max(1, Math.ceil(data.length / Math.max(1, pieces)));
  return framesOfSize(opcode, data, size, rsv);
}

/** Splits `data` into frames of `size` bytes (the last may be shorter). */
export function framesOfSize(
  opcode: number,
  data: Uint8Array,
  size: number,
  rsv = 0,
): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (let at = 0; at < data.length || frames.length === 0; at += size) {
    frames.push({
      opcode: frames.length === 0 ? opcode : Op.Continuation,
      rsv: frames.length === 0 ? rsv : 0,
      payload: data.subarray(at, Math.min(data.length, at + size)),
      fin: at + size >= data.length,
    });
  }
  return frames;
}

/** Sends one message, compressed when deflate is in force. */
export async function sendMessage(
  peer: Peer,
  opcode: number,
  data: Uint8Array,
  opts: SendOptions = {},
): Promise<void> {
  const compress = opts.compress ?? peer.deflate !== undefined;
  const payload = compress ? await peer.compress(data) : data;
  const rsv = compress ? Rsv.Rsv1 : 0;
  const frames = opts.fragmentSize
    ? framesOfSize(opcode, payload, opts.fragmentSize, rsv)
    : fragmentFrames(opcode, payload, opts.fragments ?? 1, rsv);
  if (opts.chop) await peer.sendChopped(frames, opts.chop);
  else await peer.send(...frames);
}

/** Sends a text message. */
export function sendText(
  peer: Peer,
  data: Uint8Array | string,
  opts?: SendOptions,
): Promise<void> {
  const bytes = typeof data === "string" ? enc(data) : data;
  return sendMessage(peer, Op.Text, bytes, opts);
}

/** Sends a binary message. */
export function sendBinary(
  peer: Peer,
  data: Uint8Array,
  opts?: SendOptions,
): Promise<void> {
  return sendMessage(peer, Op.Binary, data, opts);
}

const payloadCache = new Map<string, Uint8Array>();

/** A cached payload: ASCII text for text messages, pseudo-random bytes otherwise. */
export function payload(opcode: number, size: number): Uint8Array {
  const key = `${opcode}:${size}`;
  let p = payloadCache.get(key);
  if (!p) {
    p = opcode === Op.Text ? asciiText(size) : pseudoRandom(size, size + 1);
    if (size >= 1 << 20) payloadCache.set(key, p);
  }
  return p;
}

/** The expected echo of a message. */
export function echoOf(opcode: number, data: Uint8Array): Expected {
  return opcode === Op.Text ? textEvent(data) : binaryEvent(data);
}

/** A wait long enough for `bytes` to travel both ways on a slow machine. */
export function waitFor(bytes: number): number {
  return 5000 + Math.ceil(bytes / 2000);
}

/**
 * Sends `prefix`, waits for the testee to fail the connection, and only if it does
 * not, sends `rest` and flags the case `"late"`.
 */
export async function failFast(
  peer: Peer,
  prefix: FrameSpec[] | Uint8Array,
  rest: FrameSpec[] | Uint8Array,
  waitMs: number,
): Promise<void> {
  await (prefix instanceof Uint8Array
    ? peer.sendRaw(prefix)
    : peer.send(...prefix));
  if (await peer.waitFor(() => peer.ended, waitMs)) return;
  peer.flags.add("late");
  await (rest instanceof Uint8Array ? peer.sendRaw(rest) : peer.send(...rest));
}

export { sleep };
