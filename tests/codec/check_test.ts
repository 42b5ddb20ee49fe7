import { assertEquals } from "@std/assert";
import {
  checkHeader,
  describeFault,
  type FrameLimits,
  newFrameState,
} from "../../src/codec/check.ts";
import type { ErrorCode } from "../../src/codec/errors.ts";
import type { Header } from "../../src/codec/header.ts";

const SERVER: FrameLimits = {
  expectMasked: true,
  rsvAllowed: 0,
  readLimit: 1000,
  maxFrameSize: 600,
  maxFragments: 3,
};

function header(fields: Partial<Header>): Header {
  return {
    fin: true,
    rsv: 0,
    opcode: 1,
    masked: true,
    length: 0,
    mask: new Uint8Array(4),
    ...fields,
  };
}

/** Runs a frame sequence; returns each frame's verdict. */
function run(
  frames: Partial<Header>[],
  limits: FrameLimits = SERVER,
): (ErrorCode | null)[] {
  const state = newFrameState();
  return frames.map((f) => checkHeader(header(f), state, limits));
}

Deno.test("checkHeader: each RFC 6455 §5 rule, alone", () => {
  const cases: [string, Partial<Header>[], ErrorCode | null, FrameLimits?][] = [
    ["a masked text frame", [{}], null],
    ["an unmasked client frame", [{ masked: false }], "unmasked_frame"],
    ["a masked server frame", [{}], "masked_frame", {
      ...SERVER,
      expectMasked: false,
    }],
    ["opcode 3", [{ opcode: 3 }], "invalid_opcode"],
    ["opcode 0xb", [{ opcode: 0xb }], "invalid_opcode"],
    ["a ping with RSV1", [{ opcode: 9, rsv: 0x40 }], "reserved_bits"],
    ["a fragmented ping", [{ opcode: 9, fin: false }], "control_fragmented"],
    ["a 126-byte ping", [{ opcode: 9, length: 126 }], "control_too_large"],
    ["a 125-byte pong", [{ opcode: 0xa, length: 125 }], null],
    ["a continuation first", [{ opcode: 0 }], "unexpected_continuation"],
    ["RSV1 unnegotiated", [{ rsv: 0x40 }], "reserved_bits"],
    ["RSV1 negotiated", [{ rsv: 0x40 }], null, { ...SERVER, rsvAllowed: 0x40 }],
    ["RSV2 with RSV1 negotiated", [{ rsv: 0x20 }], "reserved_bits", {
      ...SERVER,
      rsvAllowed: 0x40,
    }],
    ["a frame over the frame limit", [{ length: 601 }], "frame_too_big"],
    ["a message over the read limit", [{ length: 1001 }], "message_too_big"],
  ];
  for (const [name, frames, want, limits] of cases) {
    assertEquals(run(frames, limits).at(-1), want, name);
  }
});

Deno.test("checkHeader: fragmentation across frames", () => {
  assertEquals(
    run([
      { opcode: 1, fin: false, length: 10 },
      { opcode: 9, length: 2 }, // a ping between fragments
      { opcode: 0, fin: false, length: 10 },
      { opcode: 0, fin: true, length: 10 },
      { opcode: 2, length: 1 }, // a new message after the last fragment
    ]),
    [null, null, null, null, null],
  );
  assertEquals(
    run([{ opcode: 1, fin: false }, { opcode: 2 }]),
    [null, "expected_continuation"],
  );
  assertEquals(
    run([{ opcode: 1, fin: false }, { opcode: 0, fin: false, rsv: 0x40 }], {
      ...SERVER,
      rsvAllowed: 0x40,
    }),
    [null, "reserved_bits"],
  );
  assertEquals(
    run([
      { opcode: 2, fin: false },
      { opcode: 0, fin: false },
      { opcode: 0, fin: false },
      { opcode: 0, fin: true },
    ]),
    [null, null, null, "too_many_fragments"],
  );
  // Fragments within the frame limit add up past the read limit.
  assertEquals(
    run([
      { opcode: 2, fin: false, length: 500 },
      { opcode: 0, fin: true, length: 501 },
    ]),
    [null, "message_too_big"],
  );
});

Deno.test("checkHeader records the message's opcode and first RSV bits", () => {
  const state = newFrameState();
  const limits = { ...SERVER, rsvAllowed: 0x40 };
  checkHeader(header({ opcode: 2, fin: false, rsv: 0x40 }), state, limits);
  checkHeader(header({ opcode: 9 }), state, limits);
  checkHeader(header({ opcode: 0, length: 7 }), state, limits);
  assertEquals(state, {
    inMessage: false,
    opcode: 2,
    rsv: 0x40,
    length: 7,
    fragments: 2,
  });
});

Deno.test("describeFault names the rule and the numbers", () => {
  const h = header({ opcode: 9, length: 200 });
  assertEquals(
    describeFault("control_too_large", h, SERVER),
    "Control frame payload is 200 bytes (at most 125)",
  );
  assertEquals(
    describeFault("message_too_big", h, SERVER),
    "Message exceeds the 1000-byte read limit",
  );
  assertEquals(
    describeFault("reserved_bits", header({ opcode: 0 }), SERVER),
    "Continuation frame has RSV bits set",
  );
});
