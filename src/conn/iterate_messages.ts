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
 * resumption and promise on top of each read. With one `next()` pending at a
 * time (as `for await` does), the result object is reused, as the message
 * itself is: both are valid until the next step. When more `next()` calls are
 * pending, each result is distinct: a message that another pending step would
 * overwrite is copied (its `data` too) before that step reads.
 */
export function iterateMessages(
  conn: { readMessage(): Promise<Message> },
): AsyncIterableIterator<Message> {
  return new MessageIterator(conn);
}

/** A copy of `msg` that no later read overwrites. */
function detach(msg: Message): Message {
  return { opcode: msg.opcode, data: msg.data.slice(), rsv: msg.rsv };
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
  /** `next()` calls waiting behind the step in progress. */
  #queued = 0;
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
      this.#queued++;
      const turn = () => {
        this.#queued--;
        return this.next();
      };
      return this.#pending.then(turn, turn);
    }
    const step = this.#conn.readMessage().then(this.#onMessage, this.#onError);
    this.#pending = step;
    return step;
  }

  // Bound methods rather than arrow functions: no closure context besides.
  #onMessage = this.#received.bind(this);
  #onError = this.#failed.bind(this);

  #received(msg: Message): IteratorResult<Message> {
    this.#pending = null;
    if (this.#queued > 0) return { done: false, value: detach(msg) };
    this.#result.value = msg;
    return this.#result;
  }

  #failed(err: unknown): IteratorResult<Message> {
    this.#pending = null;
    this.#done = true;
    if (err instanceof CloseError) return DONE;
    throw err;
  }

  /** Ends the iteration (a `break` out of `for await`); the connection stays open. */
  return(): Promise<IteratorResult<Message>> {
    this.#done = true;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}
