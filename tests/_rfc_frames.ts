/**
 * The example frames printed in RFC 6455 §5.7 and RFC 7692 §7.2.3, by name, as
 * the exact bytes the RFCs list. `tests/_wire_test.ts` proves the wire toolkit
 * encodes each one to these bytes.
 *
 * The arrays are shared: copy one (`.slice()`) before changing it.
 *
 * @module
 */

import { hex } from "./_wire.ts";

// RFC 6455 §5.7 "Examples".

/** §5.7: the masking key of every masked example. */
export const RFC_MASK_KEY: Uint8Array = hex("37 fa 21 3d");

/** §5.7: a single-frame unmasked text message containing "Hello". */
export const TEXT_HELLO: Uint8Array = hex("81 05 48 65 6c 6c 6f");

/** §5.7: a single-frame masked text message containing "Hello". */
export const TEXT_HELLO_MASKED: Uint8Array = hex(
  "81 85 37 fa 21 3d 7f 9f 4d 51 58",
);

/** §5.7: a fragmented unmasked text message, "Hel" then "lo". */
export const TEXT_HELLO_FRAGMENTS: readonly Uint8Array[] = [
  hex("01 03 48 65 6c"),
  hex("80 02 6c 6f"),
];

/** §5.7: an unmasked ping whose body is "Hello". */
export const PING_HELLO: Uint8Array = hex("89 05 48 65 6c 6c 6f");

/** §5.7: a masked pong whose body is "Hello", answering {@linkcode PING_HELLO}. */
export const PONG_HELLO_MASKED: Uint8Array = hex(
  "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
);

/** §5.7: the header of 256 bytes of binary data in a single unmasked frame (16-bit length). */
export const BINARY_256_HEADER: Uint8Array = hex("82 7e 01 00");

/** §5.7: the header of 64 KiB of binary data in a single unmasked frame (64-bit length). */
export const BINARY_64KIB_HEADER: Uint8Array = hex(
  "82 7f 00 00 00 00 00 01 00 00",
);

// RFC 7692 §7.2.3 "Examples" (permessage-deflate; RSV1 set on first frames).

/** RFC 7692 §7.2.3.1: "Hello" compressed in one DEFLATE block, one frame. */
export const DEFLATE_HELLO: Uint8Array = hex("c1 07 f2 48 cd c9 c9 07 00");

/** RFC 7692 §7.2.3.1: the same compressed "Hello" in two fragments (RSV1 on the first only). */
export const DEFLATE_HELLO_FRAGMENTS: readonly Uint8Array[] = [
  hex("41 03 f2 48 cd"),
  hex("80 04 c9 c9 07 00"),
];

/**
 * RFC 7692 §7.2.3.2: a second "Hello" after {@linkcode DEFLATE_HELLO} with
 * context takeover, referring back into the shared LZ77 window.
 */
export const DEFLATE_HELLO_TAKEOVER_SECOND: Uint8Array = hex(
  "c1 05 f2 00 11 00 00",
);

/**
 * RFC 7692 §7.2.3.2: a second "Hello" without context takeover: the same bytes
 * as the first, {@linkcode DEFLATE_HELLO}.
 */
export const DEFLATE_HELLO_NO_TAKEOVER_SECOND: Uint8Array = hex(
  "c1 07 f2 48 cd c9 c9 07 00",
);

/** RFC 7692 §7.2.3.3: "Hello" in a DEFLATE block with no compression (BTYPE 00). */
export const DEFLATE_HELLO_STORED: Uint8Array = hex(
  "c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00",
);

/**
 * RFC 7692 §7.2.3.4: "Hello" in a DEFLATE block with BFINAL set, followed by one
 * octet holding an empty non-final block header so it inflates like the others.
 */
export const DEFLATE_HELLO_BFINAL: Uint8Array = hex(
  "c1 08 f3 48 cd c9 c9 07 00 00",
);

/** RFC 7692 §7.2.3.5: "Hello" compressed as two DEFLATE blocks ("He", then "llo"). */
export const DEFLATE_HELLO_TWO_BLOCKS: Uint8Array = hex(
  "c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00",
);

/** RFC 7692 §7.2.3.6: an empty message, compressed: the single payload octet `00`. */
export const DEFLATE_EMPTY: Uint8Array = hex("c1 01 00");
