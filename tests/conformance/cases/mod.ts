/**
 * Every case of the suite, in report order.
 *
 * @module
 */

import type { Case } from "../_case.ts";
import { DEFAULT_PROFILE, type SuiteProfile } from "./_helpers.ts";
import { closeCases } from "./close.ts";
import { compressionCases } from "./compression.ts";
import { fragmentationCases } from "./fragmentation.ts";
import { framingCases } from "./framing.ts";
import { largeCases } from "./large.ts";
import { manyFrameCases } from "./many_frames.ts";
import { opcodeCases } from "./opcodes.ts";
import { pingPongCases } from "./ping_pong.ts";
import { reservedBitCases } from "./reserved_bits.ts";
import { utf8Cases } from "./utf8.ts";

export { DEFAULT_PROFILE, type SuiteProfile };

/** All cases for a testee with the given profile. */
export function allCases(profile: SuiteProfile = DEFAULT_PROFILE): Case[] {
  const cases = [
    ...framingCases(profile),
    ...pingPongCases(),
    ...reservedBitCases(),
    ...opcodeCases(),
    ...fragmentationCases(),
    ...utf8Cases(profile),
    ...closeCases(),
    ...largeCases(profile),
    ...manyFrameCases(),
    ...compressionCases(profile),
  ];
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
    seen.add(c.id);
  }
  return cases;
}
