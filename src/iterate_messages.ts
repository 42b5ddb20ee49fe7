/**
 * The async iteration every connection offers: messages until the peer closes.
 *
 * @module
 */

import { CloseError } from "./errors.ts";
import type { Message } from "./websocket_conn.ts";

/**
 * Yields `conn`'s messages until a read rejects with {@linkcode CloseError}
 * (the end, not an error); any other failure is thrown.
 */
export async function* iterateMessages(
  conn: { readMessage(): Promise<Message> },
): AsyncGenerator<Message> {
  for (;;) {
    let msg: Message;
    try {
      msg = await conn.readMessage();
    } catch (err) {
      if (err instanceof CloseError) return;
      throw err;
    }
    yield msg;
  }
}
