import { assert, assertEquals } from "@std/assert";
import {
  compressionStreamEngine,
  streamsFlushEachWrite,
} from "../../src/deflate/compression_stream.ts";

Deno.test("the runtime's CompressionStream passes the start-up check", async () => {
  assert(await streamsFlushEachWrite());
});

Deno.test("the CompressionStream engine says it cannot limit its window", () => {
  const engine = compressionStreamEngine();
  assertEquals([engine.name, engine.limitsWindow], [
    "CompressionStream",
    false,
  ]);
});
