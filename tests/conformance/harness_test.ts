/**
 * Tests of the harness itself: wire codec, deflate, negotiation rules and
 * verdicts as pure functions, then the whole suite against `npm:ws` (a known
 * conformant peer, both roles) and against a deliberately broken `ws`.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import type { CaseResult } from "./_case.ts";
import { pongEvent, textEvent } from "./_case.ts";
import {
  answerOffer,
  checkResponse,
  compressStored,
  Deflater,
  Inflater,
} from "./_deflate.ts";
import { scanDeflate } from "./_deflate_scan.ts";
import { startServer } from "./_processes.ts";
import { judge, type Observation } from "./_verdict.ts";
import {
  CLOSE_CODES,
  enc,
  encodeFrame,
  Op,
  parseFrame,
  Rsv,
} from "../_wire.ts";
import { pseudoRandom } from "./_data.ts";
import { runClientSuite, runServerSuite } from "./_suite.ts";
import { allCases } from "./cases/mod.ts";

const WS_SERVER = [
  "deno",
  "run",
  "-A",
  "tests/conformance/peers/ws_echo_server.ts",
  "--port",
  "{port}",
];
const WS_CLIENT = [
  "deno",
  "run",
  "-A",
  "tests/conformance/peers/ws_testee_client.ts",
];

/**
 * Where `ws` running under Deno 2.9.6 is not conformant, with the reason. Deno's
 * node:zlib runs a flush callback before reporting a DEFLATE error, so `ws` echoes
 * an empty message and then closes without a status code.
 */
const WS_KNOWN_FAILURES: Record<string, string> = {
  "10.5.15":
    "node:zlib on Deno reports invalid DEFLATE data after the flush callback",
};

Deno.test("frames round-trip at every length form, fed whole and byte by byte", () => {
  for (const n of [0, 1, 125, 126, 65535, 65536, 70000]) {
    for (const mask of [false, true]) {
      const payload = pseudoRandom(n, n + 1);
      const bytes = encodeFrame({
        opcode: Op.Binary,
        payload,
        rsv: Rsv.Rsv2,
        fin: false,
        mask,
      });
      const whole = parseFrame(bytes, 0, bytes.length, 1 << 20);
      if (!whole) throw new Error("a whole frame did not parse");
      assertEquals(whole.next, bytes.length);
      assertEquals(whole.frame.payload, payload);
      assertEquals([whole.frame.fin, whole.frame.rsv, whole.frame.masked], [
        false,
        Rsv.Rsv2,
        mask,
      ]);
      if (n <= 126) {
        for (let cut = 0; cut < bytes.length; cut++) {
          assertEquals(parseFrame(bytes, 0, cut, 1 << 20), undefined);
        }
      }
    }
  }
});

Deno.test("frames flag non-minimal lengths and refuse lengths above the limit", () => {
  const five = encodeFrame({
    opcode: Op.Text,
    payload: enc("hello"),
    lengthForm: 64,
  });
  assertEquals(five.length, 2 + 8 + 5);
  assert(parseFrame(five, 0, five.length, 100)?.frame.nonMinimalLength);
  const huge = encodeFrame({
    opcode: Op.Binary,
    lengthForm: 64,
    length: 1n << 63n,
  });
  assertThrows(() => parseFrame(huge, 0, huge.length, 1 << 20), RangeError);
});

Deno.test("deflate round-trips with and without context takeover", async () => {
  for (const reset of [false, true]) {
    const d = new Deflater(15, reset);
    const i = new Inflater(reset, 1 << 20);
    const msg = enc("Hello, hello, hello, compressed world! ".repeat(4));
    const first = await d.compress(msg);
    const second = await d.compress(msg);
    assertEquals(await i.inflate(first), msg);
    assertEquals(await i.inflate(second), msg);
    // With takeover the repeat refers back to the first message and shrinks.
    assert(
      reset ? second.length === first.length : second.length < first.length,
    );
    d.close();
    i.close();
  }
});

Deno.test("inflation is bounded and reports invalid data", async () => {
  const d = new Deflater(15, true);
  const bomb = await d.compress(new Uint8Array(4 << 20));
  const i = new Inflater(true, 1 << 20);
  await i.inflate(bomb).then(
    () => assert(false, "bomb inflated"),
    (e) => assert(e instanceof Error),
  );
  const j = new Inflater(false, 1 << 20);
  await j.inflate(new Uint8Array([0xff, 0xff])).then(
    () => assert(false),
    (e) => assert(e instanceof Error),
  );
  j.close();
});

Deno.test("the DEFLATE walk finds the longest back-reference", async () => {
  const block = pseudoRandom(3000, 1);
  const twice = new Uint8Array(6000);
  twice.set(block);
  twice.set(block, 3000);
  const tail = [0x00, 0x00, 0xff, 0xff];
  for (const bits of [9, 12, 15]) {
    const z = await new Deflater(bits, true).compress(twice);
    const scan = scanDeflate(new Uint8Array([...z, ...tail]), 1 << 20);
    assertEquals(scan.outputLength, 6000);
    assertEquals(scan.maxDistance, bits >= 12 ? 3000 : scan.maxDistance);
    assert(scan.maxDistance <= 1 << bits);
  }
  const stored = new Uint8Array([...compressStored(block), ...tail]);
  assertEquals(scanDeflate(stored, 1 << 20), {
    maxDistance: 0,
    outputLength: 3000,
  });
  assertThrows(
    () => scanDeflate(new Uint8Array([0xff, 0xff]), 100),
    RangeError,
  );
});

Deno.test("server answers are checked against the offer (RFC 7692 §7.1)", () => {
  const offer = "permessage-deflate; client_max_window_bits";
  assertEquals(checkResponse(offer, null), {});
  assertEquals(
    checkResponse(offer, "permessage-deflate").params?.clientMaxWindowBits,
    15,
  );
  assertEquals(
    checkResponse(offer, "permessage-deflate; client_max_window_bits=10").params
      ?.clientMaxWindowBits,
    10,
  );
  assert(
    checkResponse(
      "permessage-deflate",
      "permessage-deflate; client_max_window_bits=10",
    ).error,
  );
  assert(checkResponse(offer, "permessage-deflate; foo").error);
  assert(
    checkResponse(offer, "permessage-deflate; server_max_window_bits=16").error,
  );
  assert(
    checkResponse(
      "permessage-deflate; server_max_window_bits=10",
      "permessage-deflate",
    ).error,
  );
  assert(checkResponse(undefined, "permessage-deflate").error);
  const answer = answerOffer("permessage-deflate; client_max_window_bits", {
    clientMaxWindowBits: 9,
  });
  if (!("header" in answer)) throw new Error("offer not answered");
  assertEquals(answer.header, "permessage-deflate; client_max_window_bits=9");
  assert(
    "skip" in answerOffer("permessage-deflate", { clientMaxWindowBits: 9 }),
  );
  assert("skip" in answerOffer(null, {}));
});

function observation(extra: Partial<Observation>): Observation {
  return {
    role: "client",
    events: [],
    violations: [],
    notes: [],
    flags: new Set(),
    pingsReceived: 0,
    ...extra,
  };
}

Deno.test("verdicts follow the expectation", () => {
  const hello = enc("hello");
  const echoed = {
    kind: "message" as const,
    opcode: Op.Text,
    data: hello,
    compressed: false,
    atMs: 1,
  };
  const clean = {
    closeSent: { code: CLOSE_CODES.NormalClosure, atMs: 2 },
    closeReceived: { code: CLOSE_CODES.NormalClosure, reason: "", atMs: 3 },
    eofAtMs: 4,
  };
  const echo = { kind: "echo" as const, events: [textEvent(hello)] };
  assertEquals(
    judge(echo, observation({ events: [echoed], ...clean })).verdict,
    "OK",
  );
  assertEquals(
    judge(echo, observation({ events: [], ...clean })).verdict,
    "FAILED",
  );
  assertEquals(
    judge(echo, observation({ events: [echoed], ...clean, eofAtMs: undefined }))
      .verdict,
    "FAILED",
  );
  assertEquals(
    judge(
      echo,
      observation({
        events: [echoed],
        ...clean,
        role: "server",
        eofAtMs: undefined,
      }),
    ).verdict,
    "OK",
  );
  assertEquals(
    judge(echo, observation({ events: [echoed], ...clean, violations: ["x"] }))
      .verdict,
    "FAILED",
  );
  const pongs = {
    kind: "echo" as const,
    events: [pongEvent("a"), pongEvent("b")],
    nonStrictEvents: [[pongEvent("b")]],
  };
  const lastPong = { kind: "pong" as const, data: enc("b"), atMs: 1 };
  assertEquals(
    judge(pongs, observation({ events: [lastPong], ...clean })).verdict,
    "NON-STRICT",
  );
  const fail = { kind: "close" as const, codes: [CLOSE_CODES.ProtocolError] };
  const closed = {
    closeReceived: { code: CLOSE_CODES.ProtocolError, reason: "", atMs: 1 },
    eofAtMs: 2,
  };
  assertEquals(judge(fail, observation(closed)).verdict, "OK");
  assertEquals(judge(fail, observation({ eofAtMs: 2 })).verdict, "NON-STRICT");
  assertEquals(judge(fail, observation({})).verdict, "FAILED");
  assertEquals(
    judge(fail, observation({ ...closed, events: [echoed] })).verdict,
    "FAILED",
  );
  const wrong = {
    closeReceived: { code: CLOSE_CODES.NormalClosure, reason: "", atMs: 1 },
    eofAtMs: 2,
  };
  assertEquals(judge(fail, observation(wrong)).verdict, "FAILED");
  const fast = { ...fail, failFast: true };
  assertEquals(
    judge(fast, observation({ ...closed, flags: new Set(["late"]) })).verdict,
    "NON-STRICT",
  );
});

Deno.test("case ids are unique and every area has cases for both roles", () => {
  const cases = allCases();
  assertEquals(new Set(cases.map((c) => c.id)).size, cases.length);
  for (const role of ["client", "server"] as const) {
    const areas = new Set(
      cases.filter((c) => !c.testee || c.testee.includes(role)).map((c) =>
        c.area
      ),
    );
    assertEquals(areas.size, 10);
  }
});

function failures(results: CaseResult[]): CaseResult[] {
  return results.filter((r) =>
    r.verdict === "FAILED" && !(r.id in WS_KNOWN_FAILURES)
  );
}

function explain(results: CaseResult[]): string {
  return results.map((r) => `${r.id} ${r.title}: ${r.reason} (${r.outcome})`)
    .join("\n");
}

Deno.test({
  name: "the whole suite scores npm:ws as a server with no unexplained failure",
  async fn() {
    const { testee, url } = await startServer(WS_SERVER, true);
    try {
      const results = await runServerSuite(url);
      assertEquals(explain(failures(results)), "");
      assert(results.filter((r) => r.verdict === "OK").length > 350);
    } finally {
      await testee.stop();
    }
  },
});

Deno.test({
  name: "the whole suite scores npm:ws as a client with no unexplained failure",
  async fn() {
    const results = await runClientSuite({
      command: WS_CLIENT,
      timeoutMs: 120_000,
    });
    assertEquals(explain(failures(results)), "");
    assert(results.filter((r) => r.verdict === "OK").length > 350);
  },
});

Deno.test({
  name: "the suite fails a server that does not validate UTF-8",
  async fn() {
    const { testee, url } = await startServer(
      [...WS_SERVER, "--skip-utf8"],
      true,
    );
    try {
      const results = await runServerSuite(url, { only: ["6.", "7.3."] });
      const invalid = results.filter((r) =>
        r.expectation.includes("close 1007")
      );
      assert(invalid.length > 80);
      assertEquals(
        invalid.filter((r) => r.verdict !== "FAILED").map((r) => r.id),
        [],
      );
    } finally {
      await testee.stop();
    }
  },
});
