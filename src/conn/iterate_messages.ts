/**
 * The async iteration every connection offers: messages until the peer closes.
 *
 * @module
 */

import { CloseError } from "../codec/errors.ts";
import type { Message } from "./websocket_conn.ts";

/**
 * Iterates over `conn`'s messages until a read rejects with
 * {@linkcode CloseError} (the end, not an error); any other failure is thrown,
 * and ends the iteration too.
 *
 * One promise reaction per message: an async generator would add its own
 * resumption and promise on top of each read. The result object is reused, as
 * the message itself is (both are valid until the next step).
 */
export function iterateMessages(
  conn: { readMessage(): Promise<Message> },
): AsyncIterableIterator<Message> {
  return new MessageIterator(conn);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

class MessageIterator implements AsyncIterableIterator<Message> {
  #conn: { readMessage(): Promise<Message> };
  #done = false;
  /** The step in progress: a concurrent `next()` waits for it. */
  #pending: Promise<IteratorResult<Message>> | null = null;
  #result: { done: false; value: Message } = {
    done: false,
    value: undefined as unknown as Message,
  };

  constructor(conn: { readMessage(): Promise<Message> }) {
    this.#conn = conn;
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.#done) return Promise.resolve(DONE);
    if (this.#pending !== null) {
      return this.#pending.then(() => this.next(), () => this.next());
    }
    const step = this.#conn.readMessage().then(this.#onMessage, this.#onError);
    this.#pending = step;
    return step;
  }

  #onMessage = (msg: Message): IteratorResult<Message> => {
    this.#pending = null;
    this.#result.value = msg;
    return this.#result;
  };

  #onError = (err: unknown): IteratorResult<Message> => {
    this.#pending = null;
    this.#done = true;
    if (err instanceof CloseError) return DONE;
    throw err;
  };

  /** Ends the iteration (a `break` out of `for await`); the connection stays open. */
  return(): Promise<IteratorResult<Message>> {
    this.#done = true;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}
