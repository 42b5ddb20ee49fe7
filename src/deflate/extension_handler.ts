/**
 * permessage-deflate plugged into the handshake's extension seam: what the
 * `deflate` option of `accept` and `dial` negotiates through.
 *
 * @module
 */

import type { ClientExtensions, ServerExtensions } from "../conn/extension.ts";
import { Rsv } from "../codec/header.ts";
import {
  acceptDeflateResponse,
  checkDeflateOptions,
  type DeflateOptions,
  negotiateDeflate,
  offerDeflate,
} from "./negotiate.ts";

/**
 * The server's extension handler: accepts the first permessage-deflate offer the
 * options can honour (see `negotiateDeflate`) and declines the rest.
 *
 * @param options The server's options.
 * @returns The server side of the negotiation.
 * @throws {RangeError} For invalid options.
 *
 * @example
 * ```ts
 * import { deflateServerExtensions } from "./extension_handler.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const handler = deflateServerExtensions({});
 * assertEquals(handler.negotiate("permessage-deflate; client_max_window_bits"), {
 *   extensions: "permessage-deflate",
 *   rsvAllowed: 0x40,
 * });
 * assertEquals(handler.negotiate("permessage-deflate; unknown_param"), null);
 * ```
 */
export function deflateServerExtensions(
  options: DeflateOptions = {},
): ServerExtensions {
  checkDeflateOptions(options, "server");
  return {
    negotiate(offer) {
      const answer = negotiateDeflate(offer, options);
      return answer === null
        ? null
        : { extensions: answer.response, rsvAllowed: Rsv.Rsv1 };
    },
  };
}

/**
 * The client's extension handler: offers permessage-deflate (see `offerDeflate`)
 * and checks the server's answer (see `acceptDeflateResponse`).
 *
 * @param options The client's options.
 * @returns The client side of the negotiation.
 * @throws {RangeError} For invalid options.
 *
 * @example
 * ```ts
 * import { deflateClientExtensions } from "./extension_handler.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const handler = deflateClientExtensions({ serverNoContextTakeover: true });
 * assertEquals(handler.offer, "permessage-deflate; server_no_context_takeover");
 * assertEquals(handler.confirm("permessage-deflate; server_no_context_takeover").rsvAllowed, 0x40);
 * assertThrows(() => handler.confirm("permessage-deflate; client_max_window_bits=9"));
 * ```
 */
export function deflateClientExtensions(
  options: DeflateOptions = {},
): ClientExtensions {
  checkDeflateOptions(options, "client");
  return {
    offer: offerDeflate(options),
    confirm(answer) {
      return acceptDeflateResponse(answer, options) === null
        ? { extensions: "", rsvAllowed: 0 }
        : { extensions: answer, rsvAllowed: Rsv.Rsv1 };
    },
  };
}
