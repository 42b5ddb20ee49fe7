import { assertEquals, assertThrows } from "@std/assert";
import { OpCode, PreparedMessage } from "../../mod.ts";
import { parseFrames } from "../_wire.ts";
import { TEXT_HELLO } from "../_rfc_frames.ts";

Deno.test("PreparedMessage frames a message once, unmasked, in every length form", () => {
  assertEquals(new PreparedMessage(OpCode.Text, "Hello").frame, TEXT_HELLO);
  for (const size of [0, 125, 126, 65535, 65536]) {
    const msg = new PreparedMessage(
      OpCode.Binary,
      new Uint8Array(size).fill(7),
    );
    const [frame] = parseFrames(msg.frame);
    assertEquals([frame.fin, frame.masked, frame.opcode], [
      true,
      false,
      OpCode.Binary,
    ]);
    assertEquals(frame.payload.length, size);
    assertEquals(msg.data.length, size);
    assertEquals(msg.data.buffer, msg.frame.buffer); // the payload is a view of the frame
  }
});

Deno.test("PreparedMessage copies the caller's bytes and refuses control opcodes", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const msg = new PreparedMessage(OpCode.Binary, bytes);
  bytes[0] = 9;
  assertEquals([...msg.data], [1, 2, 3]);
  assertThrows(() => new PreparedMessage(OpCode.Ping as never, "x"), TypeError);
});
