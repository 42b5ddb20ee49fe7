import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { Rsv } from "../../src/codec/header.ts";
import { wrapDeflate } from "../../src/deflate/wrap.ts";
import { profileOf } from "../../src/deflate/profile.ts";
import type { DeflateParams } from "../../src/deflate/negotiate.ts";
import type { PerMessageDeflateConn } from "../../src/deflate/permessage_deflate_conn.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { idleConn } from "../_heap.ts";

const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

Deno.test("profileOf: the same values give the same frozen profile; other values another", () => {
  const a = profileOf("server", PARAMS, {});
  assertStrictEquals(profileOf("server", { ...PARAMS }, {}), a);
  assert(Object.isFrozen(a) && Object.isFrozen(a.params));
  assertEquals(a.params, PARAMS);
  assertEquals([a.level, a.threshold, a.ownWindowBits], [6, 128, 15]);
  const b = profileOf("server", PARAMS, { serverNoContextTakeover: true });
  assert(b !== a);
  assertEquals([b.level, b.resetAfterWrite, b.resetAfterRead], [
    3,
    true,
    false,
  ]);
  const client = profileOf("client", { ...PARAMS, serverMaxWindowBits: 10 }, {
    engine: zlibEngine(),
  });
  assertEquals([client.ownWindowBits, client.peerWindowBits], [15, 10]);
});

Deno.test("profileOf: a window the engine cannot keep is refused, and not remembered", () => {
  const params = { ...PARAMS, serverMaxWindowBits: 10 };
  const engine = { ...zlibEngine(), limitsWindow: false, name: "fixed" };
  for (let i = 0; i < 2; i++) {
    assertThrows(
      () => profileOf("server", params, { engine }),
      RangeError,
      "cannot limit its window to 10 bits",
    );
  }
});

Deno.test("connections configured alike share one params object (no copy per connection)", () => {
  const options = {
    rsvAllowed: Rsv.Rsv1,
    extensions: "permessage-deflate; client_max_window_bits=15",
  };
  const a = wrapDeflate(idleConn(options)) as PerMessageDeflateConn;
  const b = wrapDeflate(idleConn(options)) as PerMessageDeflateConn;
  assertStrictEquals(a.params, b.params);
  assertEquals(a.params.clientMaxWindowBits, 15);
  a.abort();
  b.abort();
});
