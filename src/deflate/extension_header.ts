/**
 * The `Sec-WebSocket-Extensions` header grammar (RFC 6455 §9.1): a comma-separated
 * list of extensions, each a token followed by `; name` or `; name=value`
 * parameters, where a value is a token or a quoted string.
 *
 * @module
 */

import { isToken } from "../codec/http_token.ts";

/**
 * One extension of a `Sec-WebSocket-Extensions` value, with its parameters in the
 * order they appeared (duplicates kept, so that callers can refuse them).
 *
 * @example
 * ```ts
 * import { parseExtensions } from "./extension_header.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const [ext] = parseExtensions("permessage-deflate; client_max_window_bits")!;
 * assertEquals(ext.params, [{ name: "client_max_window_bits", value: null }]);
 * ```
 */
export interface Extension {
  /** The extension's token, lowercased. */
  name: string;
  /** The parameters: a lowercased name, and the unquoted value or `null`. */
  params: ExtensionParam[];
}

/**
 * One parameter of an {@linkcode Extension}.
 *
 * @example
 * ```ts
 * import type { ExtensionParam } from "./extension_header.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const p: ExtensionParam = { name: "server_max_window_bits", value: "10" };
 * assertEquals(p.value, "10");
 * ```
 */
export interface ExtensionParam {
  /** The parameter's name, lowercased. */
  name: string;
  /** The value with any quotes removed, or `null` when the parameter has none. */
  value: string | null;
}

/** tchar (RFC 7230 §3.2.6) as a lookup table over ASCII. */
const TCHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  TCHAR[c] = /[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(ch) ? 1 : 0;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (repeated header fields joined with
 * commas). Quoted values are unquoted and must then be tokens, as RFC 6455 §9.1
 * requires.
 *
 * @param value The header value.
 * @returns The extensions in order, or `null` when the value is malformed.
 *
 * @example Two offers, the second with a quoted value
 * ```ts
 * import { parseExtensions } from "./extension_header.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const exts = parseExtensions(
 *   'permessage-deflate; server_max_window_bits="10", permessage-deflate',
 * )!;
 * assertEquals(exts.length, 2);
 * assertEquals(exts[0].params[0].value, "10");
 * assertEquals(parseExtensions("permessage-deflate;"), null);
 * ```
 */
export function parseExtensions(value: string): Extension[] | null {
  const p = new Parser(value);
  const out: Extension[] = [];
  p.skipSpace();
  if (p.done) return out;
  for (;;) {
    const ext = p.extension();
    if (ext === null) return null;
    out.push(ext);
    p.skipSpace();
    if (p.done) return out;
    if (!p.eat(0x2c)) return null; // ","
    p.skipSpace();
  }
}

class Parser {
  #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  get done(): boolean {
    return this.#i >= this.#s.length;
  }

  skipSpace(): void {
    const s = this.#s;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (c !== 0x20 && c !== 0x09) break;
      this.#i++;
    }
  }

  eat(code: number): boolean {
    if (this.#s.charCodeAt(this.#i) !== code) return false;
    this.#i++;
    return true;
  }

  token(): string | null {
    const start = this.#i;
    while (!this.done && isTchar(this.#s.charCodeAt(this.#i))) this.#i++;
    return this.#i > start ? this.#s.slice(start, this.#i) : null;
  }

  /** A quoted string (RFC 7230 §3.2.6), unescaped; the opening quote is eaten. */
  quoted(): string | null {
    let out = "";
    const s = this.#s;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i++);
      if (c === 0x22) return out;
      if (c === 0x5c) {
        if (this.#i >= s.length) return null;
        out += s[this.#i++];
      } else {
        out += s[this.#i - 1];
      }
    }
    return null;
  }

  extension(): Extension | null {
    const name = this.token();
    if (name === null) return null;
    const params: ExtensionParam[] = [];
    for (;;) {
      this.skipSpace();
      if (!this.eat(0x3b)) break; // ";"
      this.skipSpace();
      const param = this.token();
      if (param === null) return null;
      this.skipSpace();
      let value: string | null = null;
      if (this.eat(0x3d)) { // "="
        this.skipSpace();
        value = this.eat(0x22) ? this.quoted() : this.token();
        if (value === null || !isToken(value)) return null;
      }
      params.push({ name: param.toLowerCase(), value });
    }
    return { name: name.toLowerCase(), params };
  }
}

/**
 * Formats one extension as a header element: `name; a; b=1`.
 *
 * @param ext The extension; parameter values must be tokens.
 * @returns The element.
 *
 * @example
 * ```ts
 * import { formatExtension } from "./extension_header.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   formatExtension({
 *     name: "permessage-deflate",
 *     params: [{ name: "server_no_context_takeover", value: null }, { name: "client_max_window_bits", value: "10" }],
 *   }),
 *   "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
 * );
 * ```
 */
export function formatExtension(ext: Extension): string {
  let out = ext.name;
  for (const p of ext.params) {
    out += p.value === null ? `; ${p.name}` : `; ${p.name}=${p.value}`;
  }
  return out;
}
