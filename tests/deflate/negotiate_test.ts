import { assertEquals, assertThrows } from "@std/assert";
import {
  acceptDeflateResponse,
  checkDeflateOptions,
  type DeflateOptions,
  deflateParamsOf,
  negotiateDeflate,
  offerDeflate,
} from "../../src/deflate/negotiate.ts";
import { zlibEngine } from "../../src/deflate/zlib.ts";
import { compressionStreamEngine } from "../../src/deflate/compression_stream.ts";

const zlib = zlibEngine();

Deno.test("negotiateDeflate: server answers, default engine", () => {
  const cases: [string | null, DeflateOptions, string | null][] = [
    [null, {}, null],
    ["", {}, null],
    ["permessage-deflate", {}, "permessage-deflate"],
    ["permessage-deflate", { enabled: false }, null],
    ["x-webkit-deflate-frame", {}, null],
    ["foo, permessage-deflate", {}, "permessage-deflate"],
    // Chromium's and Firefox's offer.
    [
      "permessage-deflate; client_max_window_bits",
      {},
      "permessage-deflate",
    ],
    [
      "permessage-deflate; client_max_window_bits=10",
      {},
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      'permessage-deflate; client_max_window_bits="10"',
      {},
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_no_context_takeover",
      {},
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      "permessage-deflate",
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
    // The default engine takes a small window (zlib keeps it for that connection).
    [
      "permessage-deflate; server_max_window_bits=10",
      {},
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_max_window_bits=15",
      {},
      "permessage-deflate; server_max_window_bits=15",
    ],
    [
      "permessage-deflate; server_max_window_bits=8, permessage-deflate",
      {},
      "permessage-deflate; server_max_window_bits=8",
    ],
    // An engine given explicitly that cannot limit its window declines it.
    [
      "permessage-deflate; server_max_window_bits=10, permessage-deflate",
      { engine: compressionStreamEngine() },
      "permessage-deflate",
    ],
    // Invalid offers are declined, and the next one is tried.
    ["permessage-deflate; server_max_window_bits", {}, null],
    ["permessage-deflate; server_max_window_bits=16", {}, null],
    ["permessage-deflate; server_max_window_bits=7", {}, null],
    ["permessage-deflate; server_max_window_bits=010", {}, null],
    ["permessage-deflate; client_max_window_bits=0x9", {}, null],
    ["permessage-deflate; server_no_context_takeover=1", {}, null],
    ["permessage-deflate; client_no_context_takeover=true", {}, null],
    ["permessage-deflate; unknown_param", {}, null],
    [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      {},
      null,
    ],
    [
      "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
      {},
      null,
    ],
    [
      "permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
    ],
    // A malformed header declines everything.
    ["permessage-deflate; ; x", {}, null],
    // A client window asked for only from clients that offered to limit theirs.
    [
      "permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
    ],
    ["permessage-deflate", { clientMaxWindowBits: 10 }, "permessage-deflate"],
  ];
  for (const [offer, options, response] of cases) {
    assertEquals(
      negotiateDeflate(offer, options)?.response ?? null,
      response,
      `${offer} with ${JSON.stringify(options)}`,
    );
  }
});

Deno.test("negotiateDeflate: server answers, zlib engine (window bits 8-15)", () => {
  const cases: [string, DeflateOptions, string | null][] = [
    [
      "permessage-deflate; server_max_window_bits=10",
      {},
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_max_window_bits=8",
      {},
      "permessage-deflate; server_max_window_bits=8",
    ],
    [
      "permessage-deflate; server_max_window_bits=12",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_max_window_bits=9",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=9",
    ],
    // A server may limit its own window even when not asked.
    [
      "permessage-deflate",
      { serverMaxWindowBits: 11 },
      "permessage-deflate; server_max_window_bits=11",
    ],
  ];
  for (const [offer, options, response] of cases) {
    assertEquals(
      negotiateDeflate(offer, { ...options, engine: zlib })?.response ?? null,
      response,
      offer,
    );
  }
});

Deno.test("negotiateDeflate: the params follow the answer", () => {
  const answer = negotiateDeflate(
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits",
    { engine: zlib, clientMaxWindowBits: 12 },
  );
  assertEquals(answer?.params, {
    serverNoContextTakeover: true,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 12,
  });
  assertEquals(deflateParamsOf(answer!.response), answer!.params);
});

Deno.test("offerDeflate: the client's offer", () => {
  const cases: [DeflateOptions, string][] = [
    [{}, "permessage-deflate"],
    [{ enabled: false }, ""],
    // The default engine offers a small window of its own (zlib keeps it).
    [
      { clientMaxWindowBits: 9 },
      "permessage-deflate; client_max_window_bits=9",
    ],
    [
      { engine: compressionStreamEngine(), clientMaxWindowBits: 15 },
      "permessage-deflate",
    ],
    [{ engine: zlib }, "permessage-deflate; client_max_window_bits"],
    [
      { engine: zlib, clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
    [
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=12",
    ],
  ];
  for (const [options, offer] of cases) {
    assertEquals(offerDeflate(options), offer, JSON.stringify(options));
  }
});

Deno.test("acceptDeflateResponse: valid answers", () => {
  const cases: [string | null, DeflateOptions, unknown][] = [
    [null, {}, null],
    ["", {}, null],
    ["permessage-deflate", {}, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    }],
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      {},
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
    ],
    // The server may shrink its own window unasked: we inflate with 15 anyway.
    ["permessage-deflate; server_max_window_bits=9", {}, {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 15,
    }],
    [
      "permessage-deflate; client_max_window_bits=9",
      { engine: zlib },
      {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 9,
      },
    ],
  ];
  for (const [response, options, params] of cases) {
    assertEquals(acceptDeflateResponse(response, options), params, response!);
  }
});

Deno.test("acceptDeflateResponse: invalid or unrequested answers throw", () => {
  const cases: [string, DeflateOptions][] = [
    ["permessage-deflate", { enabled: false }],
    ["x-webkit-deflate-frame", {}],
    ["permessage-deflate, permessage-deflate", {}],
    ["permessage-deflate, foo", {}],
    ["permessage-deflate;", {}],
    ["permessage-deflate; foo", {}],
    ["permessage-deflate; server_no_context_takeover=1", {}],
    ["permessage-deflate; server_max_window_bits", {}],
    ["permessage-deflate; server_max_window_bits=16", {}],
    [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      {},
    ],
    // Larger than requested.
    ["permessage-deflate; server_max_window_bits=12", {
      serverMaxWindowBits: 10,
    }],
    // A client window the client did not offer (the default engine cannot).
    ["permessage-deflate; client_max_window_bits=10", {}],
    // Without a value in a response.
    ["permessage-deflate; client_max_window_bits", { engine: zlib }],
    // Larger than offered.
    [
      "permessage-deflate; client_max_window_bits=12",
      { engine: zlib, clientMaxWindowBits: 10 },
    ],
  ];
  for (const [response, options] of cases) {
    assertThrows(
      () => acceptDeflateResponse(response, options),
      TypeError,
      undefined,
      response,
    );
  }
});

Deno.test("checkDeflateOptions: ranges and what the engine can honour", () => {
  checkDeflateOptions({ level: 0, threshold: 0 }, "server");
  checkDeflateOptions({ serverMaxWindowBits: 8, engine: zlib }, "server");
  // The default engine leaves small windows of its own to zlib.
  checkDeflateOptions({ serverMaxWindowBits: 8 }, "server");
  checkDeflateOptions({ clientMaxWindowBits: 9 }, "client");
  const stream = compressionStreamEngine();
  // A client may ask for a small server window with any engine.
  checkDeflateOptions({ serverMaxWindowBits: 8 }, "client");
  const bad: [DeflateOptions, "client" | "server"][] = [
    [{ level: 10 }, "server"],
    [{ level: 1.5 }, "server"],
    [{ threshold: -1 }, "client"],
    [{ serverMaxWindowBits: 16 }, "client"],
    [{ clientMaxWindowBits: 7 }, "client"],
    [{ serverMaxWindowBits: 14, engine: stream }, "server"],
    [{ clientMaxWindowBits: 14, engine: stream }, "client"],
  ];
  for (const [options, role] of bad) {
    assertThrows(
      () => checkDeflateOptions(options, role),
      RangeError,
      undefined,
      JSON.stringify(options),
    );
  }
});
