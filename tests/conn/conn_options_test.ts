import {
  assert,
  assertEquals,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { readLimitsOf, settingsOf } from "../../src/conn/conn_options.ts";

Deno.test("settingsOf fills in every default", () => {
  assertEquals(settingsOf({ role: "server" }), {
    expectMasked: true,
    readLimit: 1 << 20,
    chunkSize: 4096,
    maxFrameSize: 1 << 20,
    maxFragments: 1 << 18,
    closeTimeout: 5_000,
    idleTimeout: 0,
    readTimeout: 0,
    writeTimeout: 0,
    rsvAllowed: 0,
    writeHighWaterMark: undefined,
    writeBufferLimit: 16 << 20,
  });
  assertEquals(settingsOf({ role: "client" }).expectMasked, false);
  // The frame limit follows the read limit unless given.
  assertEquals(
    settingsOf({ role: "client", readLimit: 100 }).maxFrameSize,
    100,
  );
});

Deno.test("settingsOf refuses a bad role and sizes that are not positive integers", () => {
  assertThrows(
    () => settingsOf({ role: "peer" as "client" }),
    TypeError,
    "role",
  );
  for (const readLimit of [0, -1, 1.5, NaN, 2 ** 60]) {
    assertThrows(
      () => settingsOf({ role: "server", readLimit }),
      RangeError,
      "readLimit",
    );
  }
  assertThrows(
    () => settingsOf({ role: "server", chunkSize: 63 }),
    RangeError,
    "at least 64",
  );
  assertThrows(
    () => settingsOf({ role: "server", maxFragments: 0 }),
    RangeError,
  );
  assertThrows(
    () => settingsOf({ role: "server", maxFrameSize: -5 }),
    RangeError,
  );
});

Deno.test("readLimitsOf shares one frozen object between equal settings", () => {
  const a = readLimitsOf(settingsOf({ role: "server" }));
  assertStrictEquals(a, readLimitsOf(settingsOf({ role: "server" })));
  assert(Object.isFrozen(a));
  const small = readLimitsOf(settingsOf({ role: "server", readLimit: 1024 }));
  assertNotStrictEquals(small, a);
  assertEquals([small.readLimit, small.maxFrameSize], [1024, 1024]);
  assertEquals(
    readLimitsOf(settingsOf({ role: "client" })).expectMasked,
    false,
  );
});
