import { assert, assertEquals } from "@std/assert";
import {
  hasToken,
  isToken,
  parseTokenList,
} from "../../src/codec/http_token.ts";

Deno.test("parseTokenList() and hasToken() read comma-separated lists", () => {
  assertEquals(parseTokenList(null), []);
  assertEquals(parseTokenList(""), []);
  assertEquals(parseTokenList(" a ,b,, \tc\t"), ["a", "b", "c"]);
  assert(hasToken("keep-alive, UPGRADE", "upgrade"));
  assert(hasToken("Upgrade", "upgrade"));
  assert(!hasToken("upgraded", "upgrade"));
  assert(!hasToken(null, "upgrade"));
  assert(isToken("chat.v1+json"));
  assert(!isToken("a b") && !isToken("a,b") && !isToken("") && !isToken("ü"));
});
