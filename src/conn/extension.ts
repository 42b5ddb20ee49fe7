/**
 * The extension seam of the opening handshake: what the server answers to an
 * offer, what the client offers and accepts, and what both settle on. The
 * handshake calls it; permessage-deflate implements it.
 *
 * @module
 */

/**
 * The extension seam on the server: answers a client's `Sec-WebSocket-Extensions`
 * offer. permessage-deflate plugs in here.
 *
 * @example Declining every offer
 * ```ts
 * import type { ServerExtensions } from "./extension.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const none: ServerExtensions = { negotiate: () => null };
 * assertEquals(none.negotiate("permessage-deflate"), null);
 * ```
 */
export interface ServerExtensions {
  /**
   * Chooses among the offered extensions.
   *
   * @param offer The offer's header value (repeated fields joined with `", "`).
   * @returns The answer, or `null` to accept none.
   * @throws {Rejection} To refuse the upgrade.
   */
  negotiate(offer: string): ExtensionAgreement | null;
}

/**
 * The extension seam on the client: the offer to send and the check of the
 * server's answer.
 *
 * @example Offering permessage-deflate and taking the answer as it is
 * ```ts
 * import type { ClientExtensions } from "./extension.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const deflate: ClientExtensions = {
 *   offer: "permessage-deflate",
 *   confirm: (answer) => ({ extensions: answer, rsvAllowed: 0x40 }),
 * };
 * assertEquals(deflate.confirm("permessage-deflate").rsvAllowed, 0x40);
 * ```
 */
export interface ClientExtensions {
  /** The `Sec-WebSocket-Extensions` value to send. */
  offer: string;
  /**
   * Checks the server's answer.
   *
   * @param answer The answer's header value.
   * @returns What was agreed.
   * @throws {Error} When the answer is not acceptable; the handshake fails.
   */
  confirm(answer: string): ExtensionAgreement;
}

/**
 * The extensions a handshake settled on.
 *
 * @example permessage-deflate, which uses RSV1
 * ```ts
 * import { Rsv } from "@wsx/websocket";
 * import { type ExtensionAgreement } from "./extension.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const agreed: ExtensionAgreement = { extensions: "permessage-deflate", rsvAllowed: Rsv.Rsv1 };
 * assertEquals(agreed.rsvAllowed, 0x40);
 * ```
 */
export interface ExtensionAgreement {
  /** The `Sec-WebSocket-Extensions` value of the 101 response. */
  extensions: string;
  /** The RSV bits the extensions use (`Rsv.Rsv1` for permessage-deflate). */
  rsvAllowed: number;
}
