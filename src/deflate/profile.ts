/**
 * What a permessage-deflate connection derives from its options and agreed
 * parameters, made once and shared by every connection that has the same: an
 * idle connection then holds one reference instead of ten fields and a
 * parameters object of its own.
 *
 * @module
 */

import { isValidUtf8 } from "../codec/utf8.ts";
import { compressionStreamEngine } from "./compression_stream.ts";
import type { DeflateEngine } from "./compressor.ts";
import type { DeflateOptions, DeflateParams } from "./negotiate.ts";

/** The default level where this side keeps its window across messages. */
const DEFAULT_LEVEL = 6;
/**
 * The default level for messages compressed alone (no context takeover for this
 * side). Levels 4-6 search longer match chains, which pay off in a window of
 * earlier messages; within one message they buy little: on 4 KiB JSON, level 3
 * output is 3-5 % larger than level 6's for about 0.8x the CPU, where with
 * context takeover it is 15 % larger.
 */
const NO_TAKEOVER_LEVEL = 3;
const DEFAULT_THRESHOLD = 128;
/** Profiles kept per engine: past this, new ones are made per connection. */
const MAX_PROFILES = 64;

/** A connection's settings for compression, frozen and shared. */
export interface Profile {
  /** The agreed parameters. */
  readonly params: DeflateParams;
  readonly engine: DeflateEngine;
  readonly checkUtf8: (bytes: Uint8Array) => boolean;
  readonly level: number;
  readonly threshold: number;
  /** This side's window, in bits. */
  readonly ownWindowBits: number;
  /** The peer's window, in bits. */
  readonly peerWindowBits: number;
  /** This side starts every message it writes with an empty window. */
  readonly resetAfterWrite: boolean;
  /** The peer's messages never look back: the inflater resets between them. */
  readonly resetAfterRead: boolean;
}

const profiles = new WeakMap<DeflateEngine, Map<string, Profile>>();

/**
 * The profile for a side with these parameters and options: the same object
 * for the same values.
 *
 * @example
 * ```ts
 * import { profileOf } from "./profile.ts";
 * import { assertEquals, assertStrictEquals } from "@std/assert";
 *
 * const params = {
 *   serverNoContextTakeover: true,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * };
 * const a = profileOf("server", params, {});
 * assertStrictEquals(profileOf("server", { ...params }, {}), a);
 * assertEquals([a.level, a.resetAfterWrite, a.resetAfterRead], [3, true, false]);
 * ```
 *
 * @param role The side.
 * @param params The agreed parameters.
 * @param options This side's options, already checked.
 * @returns The shared profile.
 */
export function profileOf(
  role: "client" | "server",
  params: DeflateParams,
  options: DeflateOptions,
): Profile {
  const engine = options.engine ?? compressionStreamEngine();
  const key = [
    role,
    params.serverNoContextTakeover,
    params.clientNoContextTakeover,
    params.serverMaxWindowBits,
    params.clientMaxWindowBits,
    options.level,
    options.threshold,
    options.serverNoContextTakeover,
    options.serverMaxWindowBits,
    options.clientNoContextTakeover,
    options.clientMaxWindowBits,
  ].join();
  let known = profiles.get(engine);
  const found = known?.get(key);
  if (found !== undefined) return found;
  const profile = newProfile(role, params, options, engine);
  if (known === undefined) profiles.set(engine, known = new Map());
  if (known.size < MAX_PROFILES) known.set(key, profile);
  return profile;
}

function newProfile(
  role: "client" | "server",
  p: DeflateParams,
  options: DeflateOptions,
  engine: DeflateEngine,
): Profile {
  const server = role === "server";
  const ownWindowBits = Math.min(
    server ? p.serverMaxWindowBits : p.clientMaxWindowBits,
    (server ? options.serverMaxWindowBits : options.clientMaxWindowBits) ?? 15,
  );
  if (ownWindowBits < 15 && !engine.limitsWindow) {
    throw new RangeError(
      `The ${engine.name} engine cannot limit its window to ${ownWindowBits} bits`,
    );
  }
  const resetAfterWrite = server
    ? p.serverNoContextTakeover || options.serverNoContextTakeover === true
    : p.clientNoContextTakeover || options.clientNoContextTakeover === true;
  return Object.freeze({
    params: Object.freeze({
      serverNoContextTakeover: p.serverNoContextTakeover,
      clientNoContextTakeover: p.clientNoContextTakeover,
      serverMaxWindowBits: p.serverMaxWindowBits,
      clientMaxWindowBits: p.clientMaxWindowBits,
    }),
    engine,
    checkUtf8: engine.isValidUtf8 ?? isValidUtf8,
    level: options.level ??
      (resetAfterWrite ? NO_TAKEOVER_LEVEL : DEFAULT_LEVEL),
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    ownWindowBits,
    peerWindowBits: server ? p.clientMaxWindowBits : p.serverMaxWindowBits,
    resetAfterWrite,
    resetAfterRead: server
      ? p.clientNoContextTakeover
      : p.serverNoContextTakeover,
  });
}
