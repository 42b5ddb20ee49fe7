import { assertEquals } from "@std/assert";
import {
  formatExtension,
  parseExtensions,
} from "../../src/deflate/extension_header.ts";

Deno.test("parseExtensions: the grammar of RFC 6455 §9.1", () => {
  const cases: [string, unknown][] = [
    ["", []],
    ["  ", []],
    ["permessage-deflate", [{ name: "permessage-deflate", params: [] }]],
    ["Permessage-Deflate", [{ name: "permessage-deflate", params: [] }]],
    [
      "permessage-deflate;client_max_window_bits",
      [{
        name: "permessage-deflate",
        params: [{ name: "client_max_window_bits", value: null }],
      }],
    ],
    [
      'permessage-deflate ; server_max_window_bits = "10" ;\tx=y',
      [{
        name: "permessage-deflate",
        params: [
          { name: "server_max_window_bits", value: "10" },
          { name: "x", value: "y" },
        ],
      }],
    ],
    [
      'a; p="\\1\\0", b',
      [{ name: "a", params: [{ name: "p", value: "10" }] }, {
        name: "b",
        params: [],
      }],
    ],
    ["a;", null],
    ["a,", null],
    [",a", null],
    ["a;;b", null],
    ["a; p=", null],
    ['a; p="', null],
    ['a; p="two words"', null],
    ['a; p=""', null],
    ["a b", null],
    ["a; p=1 2", null],
    ["a; p=(x)", null],
  ];
  for (const [header, expected] of cases) {
    assertEquals(parseExtensions(header), expected, header);
  }
});

Deno.test("formatExtension: round-trips through parseExtensions", () => {
  const ext = {
    name: "permessage-deflate",
    params: [
      { name: "server_no_context_takeover", value: null },
      { name: "client_max_window_bits", value: "9" },
    ],
  };
  const text = formatExtension(ext);
  assertEquals(
    text,
    "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
  );
  assertEquals(parseExtensions(text), [ext]);
});
