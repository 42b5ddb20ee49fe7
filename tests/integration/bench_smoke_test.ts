/**
 * Keeps the benchmarks working: each runs in its smoke mode (a few iterations of
 * every micro benchmark, a few hundred milliseconds per load cell) and must produce
 * sane figures. Nothing here is timed or compared.
 *
 * @module
 */

import { assert, assertEquals, assertGreater } from "@std/assert";

const root = new URL("../../", import.meta.url);
const MICRO = [
  "bench/micro/header_bench.ts",
  "bench/micro/mask_bench.ts",
  "bench/micro/utf8_bench.ts",
  "bench/micro/frame_bench.ts",
  "bench/micro/message_bench.ts",
  "bench/micro/read_bench.ts",
  "bench/micro/entry_points_bench.ts",
  "bench/micro/deflate_bench.ts",
];

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root.pathname,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

Deno.test("micro benchmarks run in smoke mode, every group with its baseline", async () => {
  let output = "";
  for (const file of MICRO) {
    const { code, stdout, stderr } = await run(["run", "-A", file], {
      BENCH_SMOKE: "1",
    });
    assertEquals(code, 0, `${file}: ${stderr}`);
    output += stdout;
  }
  for (
    const group of [
      "decode masked",
      "mask 8 B",
      "ASCII 20 B",
      "write 16 x 20 B",
      "readMessage text 20 B",
      "read 1 MiB in 4 KiB reads",
      "readMessage 64 x 16 KiB over loopback",
      "connect, one round trip, close",
    ]
  ) {
    assert(output.includes(`smoke ok | ${group} |`), `missing group ${group}`);
  }
  assertGreater(output.split("smoke ok").length - 1, 50);
});

Deno.test("the allocation benchmark reports bytes per message for the raw echoes and ours", async () => {
  const { code, stdout, stderr } = await run([
    "run",
    "-A",
    "bench/harness/alloc.ts",
    "--smoke",
  ]);
  assertEquals(code, 0, stderr);
  const row = stdout.split("\n").find((line) => line.startsWith("| 32 |"));
  if (row === undefined) throw new Error(`No 32-byte row in:\n${stdout}`);
  // | size | raw | raw + then() | ours | ...
  const [raw, layered, ours] = row.split("|").slice(2, 5).map(Number);
  assertGreater(raw, 0);
  assertGreater(layered, 0);
  assertGreater(ours, 0);
});

Deno.test("the load benchmark drives every server and every client", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const { code, stdout, stderr } = await run([
      "run",
      "-A",
      "bench/harness/load/run.ts",
      "--smoke",
      "--json",
      json,
    ]);
    assertEquals(code, 0, stderr);
    assert(stdout.includes("### S1"), stdout);
    const raw = JSON.parse(await Deno.readTextFile(json));
    const cells = { ...raw.load, ...raw.client } as Record<
      string,
      { messages: number; errors: number }[]
    >;
    assertEquals(Object.keys(cells).sort(), [
      "S1/client-dial",
      "S1/client-ours",
      "S1/client-websocket",
      "S1/deno",
      "S1/ours",
      "S1/raw",
      "S1/ws",
    ]);
    for (const [cell, results] of Object.entries(cells)) {
      assertGreater(results[0].messages, 0, `${cell} echoed nothing`);
      assertEquals(results[0].errors, 0, `${cell} lost connections`);
    }
  } finally {
    await Deno.remove(json);
  }
});

Deno.test("every permessage-deflate offer of the load generator is accepted and echoed by each compressing server", async () => {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const { code, stderr } = await run([
      "run",
      "-A",
      "bench/harness/load/run.ts",
      "--smoke",
      "--only",
      "S5,S5nn,S5n,S5w",
      "--sections",
      "load",
      "--json",
      json,
    ]);
    assertEquals(code, 0, stderr);
    const cells = JSON.parse(await Deno.readTextFile(json)).load as Record<
      string,
      { messages: number; errors: number }[]
    >;
    const servers = ["oursDeflate", "oursZlib", "wsDeflate"];
    assertEquals(
      Object.keys(cells).sort(),
      [
        "S5/oursZlib4",
        ...["S5", "S5n", "S5nn", "S5w"].flatMap((id) =>
          servers.map((server) => `${id}/${server}`)
        ),
      ].sort(),
    );
    for (const [cell, results] of Object.entries(cells)) {
      assertGreater(results[0].messages, 0, `${cell} echoed nothing`);
      assertEquals(results[0].errors, 0, `${cell} lost connections`);
    }
  } finally {
    await Deno.remove(json);
  }
});
