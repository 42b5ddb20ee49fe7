/**
 * The error classes: every `ErrorCode` carries the close code its table in
 * `src/codec/errors.ts` documents, and each class keeps what it was given.
 *
 * @module
 */

import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import {
  CloseError,
  type ErrorCode,
  HandshakeError,
  WebSocketError,
} from "../../src/codec/errors.ts";

/**
 * The close code of every reason, written out here from RFC 6455 §7.4.1: a
 * `Record` over the union, so a new `ErrorCode` without an entry fails to compile.
 */
const EXPECTED: Record<ErrorCode, number> = {
  message_too_big: 1009,
  frame_too_big: 1009,
  buffer_too_small: 1009,
  too_many_fragments: 1009,
  reserved_bits: 1002,
  invalid_opcode: 1002,
  control_too_large: 1002,
  control_fragmented: 1002,
  unexpected_continuation: 1002,
  expected_continuation: 1002,
  unmasked_frame: 1002,
  masked_frame: 1002,
  invalid_length: 1002,
  invalid_close_payload: 1002,
  invalid_close_code: 1002,
  invalid_utf8: 1007,
  invalid_compressed_data: 1007,
  closed: 1006,
  pong_timeout: 1006,
  idle_timeout: 1001,
  read_timeout: 1011,
  read_aborted: 1011,
  write_timeout: 1006,
  write_aborted: 1006,
  write_buffer_full: 1013,
  read_queue_full: 1008,
  internal_error: 1011,
};

/** The `| code | close code | meaning |` rows of the `ErrorCode` doc comment. */
function documentedTable(): Map<string, number> {
  const source = Deno.readTextFileSync(
    new URL("../../src/codec/errors.ts", import.meta.url),
  );
  const rows = new Map<string, number>();
  for (const m of source.matchAll(/^ \* \| `(\w+)` \| (\d{4}) \|/gm)) {
    rows.set(m[1], Number(m[2]));
  }
  return rows;
}

Deno.test("every ErrorCode maps to the close code its documentation gives", () => {
  const documented = documentedTable();
  assertEquals(
    [...documented.keys()].sort(),
    Object.keys(EXPECTED).sort(),
    "the table lists every ErrorCode, and nothing else",
  );
  for (const [code, closeCode] of Object.entries(EXPECTED)) {
    const err = new WebSocketError(code as ErrorCode, "Something failed");
    assertEquals(err.closeCode, closeCode, code);
    assertEquals(documented.get(code), closeCode, `${code} in the table`);
  }
});

Deno.test("WebSocketError keeps its code, message and cause", () => {
  const cause = new Deno.errors.ConnectionReset("reset");
  const err = new WebSocketError("closed", "Cannot write", { cause });
  assertInstanceOf(err, Error);
  assertEquals(
    [err.name, err.code, err.message, err.cause],
    ["WebSocketError", "closed", "Cannot write", cause],
  );
  assert(err.stack?.includes("WebSocketError"));
  assertEquals(new WebSocketError("invalid_utf8", "x").cause, undefined);
});

Deno.test("CloseError carries the peer's code and reason; the message names both", () => {
  const err = new CloseError(4001, "bye now");
  assertInstanceOf(err, Error);
  assertEquals([err.name, err.code, err.reason], [
    "CloseError",
    4001,
    "bye now",
  ]);
  assertEquals(err.message, "Connection closed with code 4001: bye now");
  const empty = new CloseError(1005, "");
  assertEquals([empty.code, empty.reason], [1005, ""]);
  assertEquals(empty.message, "Connection closed with code 1005");
  assert(!(err instanceof WebSocketError), "a close is not a failure");
});

Deno.test("HandshakeError carries the HTTP status and a cause", () => {
  const cause = new TypeError("bad header");
  const err = new HandshakeError(400, "Missing Sec-WebSocket-Key", { cause });
  assertInstanceOf(err, Error);
  assertEquals(
    [err.name, err.status, err.message, err.cause],
    ["HandshakeError", 400, "Missing Sec-WebSocket-Key", cause],
  );
  assertEquals(new HandshakeError(0, "No response").status, 0);
});
