import { assertEquals } from "@std/assert";
import { CloseCode } from "../../mod.ts";

Deno.test("CloseCode keeps the known codes as literals beside application codes", () => {
  // With `... | number` the union collapses to `number`, and these two lines
  // stop type-checking: Extract<number, 1001> is never.
  const goingAway: Extract<CloseCode, 1001> = CloseCode.GoingAway;
  const tryAgain: Extract<CloseCode, 1013> = 1013;
  const application: CloseCode = 4001;
  // @ts-expect-error A string is no close code.
  const wrong: CloseCode = "1000";
  assertEquals([goingAway, tryAgain, application, wrong], [
    1001,
    1013,
    4001,
    "1000",
  ]);
});
