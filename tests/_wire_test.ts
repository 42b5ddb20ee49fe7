/**
 * The wire toolkit against the RFCs' own example bytes: each example in
 * `_rfc_frames.ts` is encoded from its fields and parsed back, whole and cut at
 * every offset.
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  CLOSE_CODES,
  closeCodeOf,
  closePayload,
  concat,
  dec,
  enc,
  encodeFrame,
  encodeFrames,
  type FrameOptions,
  hex,
  INVALID_CLOSE_CODES,
  isValidCloseCode,
  Op,
  parseFrame,
  parseFrames,
  Rsv,
  toHex,
  VALID_CLOSE_CODES,
} from "./_wire.ts";
import { Buffer } from "node:buffer";
import * as rfc from "./_rfc_frames.ts";

const key = rfc.RFC_MASK_KEY;
const hello = enc("Hello");

/** Each RFC example, with the frames that spell it. */
const EXAMPLES: [string, Uint8Array, FrameOptions[]][] = [
  ["RFC 6455 §5.7 unmasked text", rfc.TEXT_HELLO, [{
    opcode: Op.Text,
    payload: "Hello",
  }]],
  ["RFC 6455 §5.7 masked text", rfc.TEXT_HELLO_MASKED, [{
    opcode: Op.Text,
    payload: "Hello",
    mask: key,
  }]],
  ["RFC 6455 §5.7 fragmented text", concat(...rfc.TEXT_HELLO_FRAGMENTS), [
    { opcode: Op.Text, payload: "Hel", fin: false },
    { opcode: Op.Continuation, payload: "lo" },
  ]],
  ["RFC 6455 §5.7 unmasked ping", rfc.PING_HELLO, [{
    opcode: Op.Ping,
    payload: "Hello",
  }]],
  ["RFC 6455 §5.7 masked pong", rfc.PONG_HELLO_MASKED, [{
    opcode: Op.Pong,
    payload: hello,
    mask: [0x37, 0xfa, 0x21, 0x3d],
  }]],
  ["RFC 7692 §7.2.3.1 compressed", rfc.DEFLATE_HELLO, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("f2 48 cd c9 c9 07 00"),
  }]],
  [
    "RFC 7692 §7.2.3.1 compressed, fragmented",
    concat(...rfc.DEFLATE_HELLO_FRAGMENTS),
    [
      {
        opcode: Op.Text,
        rsv: Rsv.Rsv1,
        fin: false,
        payload: hex("f2 48 cd"),
      },
      { opcode: Op.Continuation, payload: hex("c9 c9 07 00") },
    ],
  ],
  ["RFC 7692 §7.2.3.2 takeover", rfc.DEFLATE_HELLO_TAKEOVER_SECOND, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("f2 00 11 00 00"),
  }]],
  ["RFC 7692 §7.2.3.2 no takeover", rfc.DEFLATE_HELLO_NO_TAKEOVER_SECOND, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("f2 48 cd c9 c9 07 00"),
  }]],
  ["RFC 7692 §7.2.3.3 stored block", rfc.DEFLATE_HELLO_STORED, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("00 05 00 fa ff 48 65 6c 6c 6f 00"),
  }]],
  ["RFC 7692 §7.2.3.4 BFINAL", rfc.DEFLATE_HELLO_BFINAL, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("f3 48 cd c9 c9 07 00 00"),
  }]],
  ["RFC 7692 §7.2.3.5 two blocks", rfc.DEFLATE_HELLO_TWO_BLOCKS, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
  }]],
  ["RFC 7692 §7.2.3.6 empty", rfc.DEFLATE_EMPTY, [{
    opcode: Op.Text,
    rsv: Rsv.Rsv1,
    payload: hex("00"),
  }]],
];

/** The bytes an options object stands for, as parsing must give them back. */
function payloadOf(options: FrameOptions): Uint8Array {
  const p = options.payload ?? new Uint8Array(0);
  return typeof p === "string" ? enc(p) : p;
}

for (const [name, bytes, frames] of EXAMPLES) {
  Deno.test(`${name}: encodes to the RFC's bytes`, () => {
    assertEquals(toHex(encodeFrames(frames)), toHex(bytes));
  });

  Deno.test(`${name}: parses back, also cut at every offset`, () => {
    const parsed = parseFrames(bytes);
    assertEquals(parsed.length, frames.length);
    parsed.forEach((f, i) => {
      const want = frames[i];
      assertEquals(f.fin, want.fin ?? true);
      assertEquals(f.rsv, want.rsv ?? 0);
      assertEquals(f.opcode, want.opcode);
      assertEquals(f.masked, want.mask !== undefined);
      assertEquals(f.payload, payloadOf(want));
      assertEquals(f.nonMinimalLength, false);
    });
    const first = parseFrame(bytes)!;
    for (let cut = 0; cut < first.next; cut++) {
      assertEquals(parseFrame(bytes, 0, cut), undefined, `cut at ${cut}`);
    }
  });
}

Deno.test("RFC 6455 §5.7 binary headers: 256 bytes and 64 KiB", () => {
  for (
    const [size, header] of [
      [256, rfc.BINARY_256_HEADER],
      [65536, rfc.BINARY_64KIB_HEADER],
    ] as const
  ) {
    const payload = new Uint8Array(size).map((_, i) => i * 7);
    const bytes = encodeFrame({ opcode: Op.Binary, payload });
    assertEquals(toHex(bytes.subarray(0, header.length)), toHex(header));
    assertEquals(bytes.length, header.length + size);
    const [frame] = parseFrames(bytes);
    assertEquals(frame.opcode, Op.Binary);
    assertEquals(frame.payload, payload);
  }
});

Deno.test("parsing the masked example gives its key and unmasks a copy", () => {
  const bytes = rfc.TEXT_HELLO_MASKED.slice();
  const { frame, next } = parseFrame(bytes)!;
  assertEquals(frame.key, key);
  assertEquals(dec(frame.payload), "Hello");
  assertEquals(next, bytes.length);
  assertEquals(bytes, rfc.TEXT_HELLO_MASKED);
});

Deno.test("a random mask round-trips, and long payloads mask word-wise", () => {
  const payload = new Uint8Array(1027).map((_, i) => i);
  const bytes = encodeFrame({ opcode: Op.Binary, payload, mask: true });
  assertEquals(bytes[1], 0x80 | 126);
  assertEquals(parseFrames(bytes)[0].payload, payload);
});

Deno.test("malformations: reserved opcode, RSV bits, lying and non-minimal lengths", () => {
  assertEquals(
    encodeFrame({ opcode: 0xb, rsv: Rsv.Rsv2 | Rsv.Rsv3, fin: false }),
    hex("3b 00"),
  );
  assertEquals(
    encodeFrame({ opcode: Op.Text, payload: "Hi", lengthForm: 16 }),
    hex("81 7e 00 02 48 69"),
  );
  const huge = encodeFrame({ opcode: Op.Binary, length: 2n ** 63n });
  assertEquals(huge, hex("82 7f 80 00 00 00 00 00 00 00"));
  assertEquals(parseFrame(huge), undefined);
  assertThrows(() => parseFrame(huge, 0, huge.length, 1 << 20), RangeError);
  const short = encodeFrame({ opcode: Op.Text, payload: "Hello", length: 3 });
  assertEquals(short, hex("81 03 48 65 6c 6c 6f"));
  assertEquals(dec(parseFrames(short)[0].payload), "Hel");
  const padded = encodeFrame({
    opcode: Op.Ping,
    payload: "x",
    lengthForm: 64,
  });
  assert(parseFrames(padded)[0].nonMinimalLength);
  assertThrows(
    () => encodeFrame({ opcode: Op.Text, length: 126, lengthForm: 7 }),
    RangeError,
  );
  assertThrows(
    () => encodeFrame({ opcode: Op.Text, length: 70000, lengthForm: 16 }),
    RangeError,
  );
  assertThrows(
    () => encodeFrame({ opcode: Op.Text, mask: [1, 2] }),
    RangeError,
  );
});

Deno.test("parseFrames leaves out an incomplete last frame", () => {
  const bytes = concat(rfc.PING_HELLO, rfc.TEXT_HELLO.subarray(0, 4));
  assertEquals(parseFrames(bytes).length, 1);
  const next = parseFrame(bytes)!.next;
  assertEquals(parseFrame(bytes, next), undefined);
});

Deno.test("hex and toHex", () => {
  assertEquals(hex("81 05\n48 65"), new Uint8Array([0x81, 0x05, 0x48, 0x65]));
  assertEquals(hex(""), new Uint8Array(0));
  assertEquals(toHex(new Uint8Array([0x81, 0x05, 0x0a])), "81 05 0a");
  assertEquals(hex(toHex(rfc.TEXT_HELLO_MASKED)), rfc.TEXT_HELLO_MASKED);
  assertThrows(() => hex("8"), TypeError);
  assertThrows(() => hex("zz"), TypeError);
});

Deno.test("close codes: the table agrees with RFC 6455 §7.4", () => {
  for (const c of VALID_CLOSE_CODES) assert(isValidCloseCode(c), `${c}`);
  for (const c of INVALID_CLOSE_CODES) assert(!isValidCloseCode(c), `${c}`);
  assert(!isValidCloseCode(CLOSE_CODES.NoStatusReceived));
  assert(!isValidCloseCode(CLOSE_CODES.AbnormalClosure));
  assert(!isValidCloseCode(CLOSE_CODES.TlsHandshake));
  assert(isValidCloseCode(CLOSE_CODES.BadGateway));
  const close = encodeFrame({
    opcode: Op.Close,
    payload: closePayload(CLOSE_CODES.GoingAway, "bye"),
  });
  assertEquals(close, hex("88 05 03 e9 62 79 65"));
  assertEquals(closeCodeOf(parseFrames(close)[0]), 1001);
  assertEquals(closeCodeOf(parseFrames(hex("88 00"))[0]), 1005);
  assertEquals(closeCodeOf(parseFrames(rfc.PING_HELLO)[0]), undefined);
});

Deno.test("enc and dec are UTF-8", () => {
  assertEquals(enc("é€"), hex("c3 a9 e2 82 ac"));
  assertEquals(dec(hex("c3 a9 e2 82 ac")), "é€");
});

Deno.test("a Node Buffer payload is copied, never masked in place", () => {
  const payload = Buffer.from("Hello, Buffer: slice() is a view here");
  const bytes = encodeFrame({ opcode: Op.Text, payload, mask: key });
  assertEquals(payload.toString(), "Hello, Buffer: slice() is a view here");
  const wire = Buffer.from(bytes);
  assertEquals(dec(parseFrames(wire)[0].payload), payload.toString());
  assertEquals(toHex(wire), toHex(bytes));
});
