/**
 * The harness's own permessage-deflate (RFC 7692): negotiation checks in both
 * directions and a compressor / decompressor on `node:zlib` with sync-flush
 * semantics, independent of the library's deflate module.
 *
 * @module
 */

import zlib from "node:zlib";

const { constants } = zlib;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The parameters in force on a connection, after negotiation. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** One element of a `Sec-WebSocket-Extensions` list. */
export interface ExtensionElement {
  name: string;
  params: [string, string | undefined][];
}

/** Splits `s` on `sep` outside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1), unquoting values. */
export function parseExtensions(header: string | null): ExtensionElement[] {
  if (header === null || header.trim() === "") return [];
  return splitOutsideQuotes(header, ",").map((element) => {
    const [name, ...rest] = splitOutsideQuotes(element, ";").map((p) =>
      p.trim()
    );
    const params = rest.filter((p) => p !== "").map(
      (p): [string, string | undefined] => {
        const eq = p.indexOf("=");
        if (eq < 0) return [p.toLowerCase(), undefined];
        const value = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
        return [p.slice(0, eq).trim().toLowerCase(), value];
      },
    );
    return { name: name.toLowerCase(), params };
  });
}

const KNOWN = [
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
];

function windowBits(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,2}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 8 && n <= 15 ? n : undefined;
}

/** Why a permessage-deflate element is malformed, or `undefined` when it is well formed. */
function elementError(
  e: ExtensionElement,
  side: "offer" | "response",
): string | undefined {
  const seen = new Set<string>();
  for (const [k, v] of e.params) {
    if (!KNOWN.includes(k)) return `unknown parameter ${k}`;
    if (seen.has(k)) return `duplicate parameter ${k}`;
    seen.add(k);
    if (k.endsWith("no_context_takeover") && v !== undefined) {
      return `${k} with a value`;
    }
    if (k === "server_max_window_bits" && windowBits(v) === undefined) {
      return `server_max_window_bits=${v ?? ""} is not 8-15`;
    }
    if (k === "client_max_window_bits") {
      if (side === "response" && v === undefined) {
        return "client_max_window_bits without a value";
      }
      if (v !== undefined && windowBits(v) === undefined) {
        return `client_max_window_bits=${v} is not 8-15`;
      }
    }
  }
  return undefined;
}

function param(
  e: ExtensionElement,
  k: string,
): { present: boolean; value?: string } {
  const hit = e.params.find(([name]) => name === k);
  return hit ? { present: true, value: hit[1] } : { present: false };
}

/**
 * Checks a server's answer against the offer the harness made (RFC 7692 §5, §7.1).
 *
 * @returns the parameters in force, `undefined` params when the server declined, or an error.
 */
export function checkResponse(
  offer: string | undefined,
  response: string | null,
): { params?: DeflateParams; error?: string } {
  const answered = parseExtensions(response);
  if (answered.length === 0) return {};
  if (answered.length > 1) {
    return { error: `several extensions accepted: ${response}` };
  }
  const r = answered[0];
  const offers = parseExtensions(offer ?? null).filter((e) =>
    e.name === "permessage-deflate"
  );
  if (r.name !== "permessage-deflate" || offers.length === 0) {
    return { error: `extension accepted that was not offered: ${response}` };
  }
  const bad = elementError(r, "response");
  if (bad) return { error: `invalid response (${bad}): ${response}` };
  const reasons: string[] = [];
  for (const o of offers) {
    if (elementError(o, "offer")) continue;
    const why = responseMismatch(o, r);
    if (why === undefined) return { params: paramsOf(r, o) };
    reasons.push(why);
  }
  return {
    error: `response fits no offer (${reasons.join("; ")}): ${response}`,
  };
}

function responseMismatch(
  o: ExtensionElement,
  r: ExtensionElement,
): string | undefined {
  if (
    param(o, "server_no_context_takeover").present &&
    !param(r, "server_no_context_takeover").present
  ) {
    return "server_no_context_takeover offered but not in the response";
  }
  const osm = param(o, "server_max_window_bits");
  const rsm = param(r, "server_max_window_bits");
  if (osm.present && !rsm.present) {
    return "server_max_window_bits offered but not in the response";
  }
  if (osm.present && Number(rsm.value) > Number(osm.value)) {
    return "server_max_window_bits above the offered value";
  }
  const ocm = param(o, "client_max_window_bits");
  const rcm = param(r, "client_max_window_bits");
  if (rcm.present && !ocm.present) {
    return "client_max_window_bits in the response but not offered";
  }
  if (
    rcm.present && ocm.value !== undefined &&
    Number(rcm.value) > Number(ocm.value)
  ) {
    return "client_max_window_bits above the offered value";
  }
  return undefined;
}

function paramsOf(r: ExtensionElement, o: ExtensionElement): DeflateParams {
  const rcm = param(r, "client_max_window_bits").value ??
    param(o, "client_max_window_bits").value;
  return {
    serverNoContextTakeover: param(r, "server_no_context_takeover").present,
    clientNoContextTakeover: param(r, "client_no_context_takeover").present ||
      param(o, "client_no_context_takeover").present,
    serverMaxWindowBits: Number(param(r, "server_max_window_bits").value ?? 15),
    clientMaxWindowBits: Number(rcm ?? 15),
  };
}

/** What the harness, acting as a server, would like to put in its answer. */
export interface DeflateWish {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

/**
 * Answers a client's offer the way a server may (RFC 7692 §7.1), with the wished
 * parameters when the offer allows them.
 *
 * @returns the header value and parameters, or why the wish cannot be honoured.
 */
export function answerOffer(
  offer: string | null,
  wish: DeflateWish,
): { header: string; params: DeflateParams } | { skip: string } {
  const offers = parseExtensions(offer).filter((e) =>
    e.name === "permessage-deflate"
  );
  if (offers.length === 0) {
    return { skip: "the client did not offer permessage-deflate" };
  }
  for (const o of offers) {
    if (elementError(o, "offer")) continue;
    const ocm = param(o, "client_max_window_bits");
    if (wish.clientMaxWindowBits !== undefined && !ocm.present) continue;
    const parts = ["permessage-deflate"];
    const snct = wish.serverNoContextTakeover ||
      param(o, "server_no_context_takeover").present;
    if (snct) parts.push("server_no_context_takeover");
    if (wish.clientNoContextTakeover) parts.push("client_no_context_takeover");
    const osm = param(o, "server_max_window_bits");
    let smwb = 15;
    if (osm.present || wish.serverMaxWindowBits !== undefined) {
      smwb = Math.min(Number(osm.value ?? 15), wish.serverMaxWindowBits ?? 15);
      parts.push(`server_max_window_bits=${smwb}`);
    }
    let cmwb = Number(ocm.value ?? 15);
    if (wish.clientMaxWindowBits !== undefined) {
      cmwb = Math.min(cmwb, wish.clientMaxWindowBits);
      parts.push(`client_max_window_bits=${cmwb}`);
    }
    return {
      header: parts.join("; "),
      params: {
        serverNoContextTakeover: snct,
        clientNoContextTakeover: wish.clientNoContextTakeover === true ||
          param(o, "client_no_context_takeover").present,
        serverMaxWindowBits: smwb,
        clientMaxWindowBits: cmwb,
      },
    };
  }
  return {
    skip: wish.clientMaxWindowBits !== undefined
      ? "the client did not offer client_max_window_bits"
      : "the client's offer is malformed",
  };
}

/** A zlib stream driven one message at a time with `Z_SYNC_FLUSH`. */
class FlushedStream {
  #stream: zlib.DeflateRaw | zlib.InflateRaw;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #limit: number;
  #failure: Error | undefined;

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw, limit: number) {
    this.#stream = stream;
    this.#limit = limit;
    stream.on("data", (c: Uint8Array) => {
      this.#size += c.length;
      if (this.#size > this.#limit) {
        this.#failure ??= new RangeError(`output above ${this.#limit} bytes`);
        stream.destroy();
      } else this.#chunks.push(c);
    });
    stream.on("error", (e: Error) => this.#failure ??= e);
  }

  /** Writes `data` and resolves with everything the flush produced. */
  run(data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const done = () => {
        this.#stream.off("error", onError);
        this.#stream.off("close", onError);
        // Deno's node:zlib runs the flush callback before the error event; the
        // stream is already marked errored by then.
        const failure = this.#failure ?? this.#stream.errored ?? undefined;
        if (failure) return reject(failure);
        const out = Buffer.concat(this.#chunks);
        this.#chunks = [];
        this.#size = 0;
        resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
      };
      const onError = () => done();
      this.#stream.once("error", onError);
      this.#stream.once("close", onError);
      this.#stream.write(data);
      this.#stream.flush(constants.Z_SYNC_FLUSH, done);
    });
  }

  close(): void {
    this.#stream.destroy();
  }
}

/** Compresses messages for one direction, keeping the window across messages unless told not to. */
export class Deflater {
  #bits: number;
  #takeover: boolean;
  #stream: FlushedStream | undefined;

  constructor(maxWindowBits: number, noContextTakeover: boolean) {
    this.#bits = maxWindowBits;
    this.#takeover = !noContextTakeover;
  }

  #options(): zlib.ZlibOptions {
    // zlib cannot make an 8-bit raw window (it uses 9); Huffman-only output has no
    // back-references at all, so it fits any window.
    return this.#bits === 8
      ? { windowBits: 9, strategy: constants.Z_HUFFMAN_ONLY }
      : { windowBits: this.#bits };
  }

  /** The compressed payload of one message, with the `00 00 ff ff` tail removed. */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    let out: Uint8Array;
    if (this.#takeover) {
      this.#stream ??= new FlushedStream(
        zlib.createDeflateRaw(this.#options()),
        Infinity,
      );
      out = await this.#stream.run(data);
    } else {
      const buf = zlib.deflateRawSync(data, {
        ...this.#options(),
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    }
    return stripTail(out);
  }

  close(): void {
    this.#stream?.close();
  }
}

/** Inflates messages for one direction; bounded by `limit` output bytes per message. */
export class Inflater {
  #takeover: boolean;
  #limit: number;
  #stream: FlushedStream | undefined;

  constructor(noContextTakeover: boolean, limit: number) {
    this.#takeover = !noContextTakeover;
    this.#limit = limit;
  }

  /** The message carried by `payload` (the tail is appended here). */
  async inflate(payload: Uint8Array): Promise<Uint8Array> {
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(TAIL, payload.length);
    if (!this.#takeover) {
      const buf = zlib.inflateRawSync(input, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.#limit,
      });
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    }
    this.#stream ??= new FlushedStream(zlib.createInflateRaw(), this.#limit);
    return await this.#stream.run(input);
  }

  close(): void {
    this.#stream?.close();
  }
}

/** Removes a trailing `00 00 ff ff` (RFC 7692 §7.2.1). */
export function stripTail(out: Uint8Array): Uint8Array {
  const n = out.length;
  if (
    n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff &&
    out[n - 1] === 0xff
  ) return out.subarray(0, n - 4);
  return out;
}

/** A one-shot payload ending in a final (BFINAL) block, as RFC 7692 §7.2.3.4 allows. */
export function compressFinal(data: Uint8Array): Uint8Array {
  const buf = zlib.deflateRawSync(data);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** A one-shot payload made of stored (uncompressed, BTYPE=00) blocks (RFC 7692 §7.2.3.3). */
export function compressStored(data: Uint8Array): Uint8Array {
  const buf = zlib.deflateRawSync(data, {
    level: 0,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return stripTail(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
}

/** A one-shot sync-flushed payload that does not reference earlier messages. */
export function compressAlone(data: Uint8Array): Uint8Array {
  const buf = zlib.deflateRawSync(data, {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return stripTail(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
}
