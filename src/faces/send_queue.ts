/**
 * The ordered send path behind the `WebSocket` face: strings, bytes and `Blob`s
 * leave in the order they were sent, with the standard's `bufferedAmount`.
 *
 * @module
 */

import { OpCode } from "../codec/opcode.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";

/** What `send()` takes once it is known: text, a copy of the bytes, or a Blob. */
export type Outgoing = string | Uint8Array | Blob;

interface Item {
  data: Outgoing;
  size: number;
}

/**
 * Writes messages to a connection one after another, each awaited, so that the
 * connection's own queue stays short and a `Blob` (read asynchronously) keeps its
 * place among the other sends. A close queued behind them goes out after them.
 *
 * `bufferedAmount` follows the standard: it grows by each message's size (UTF-8
 * bytes, byte length or Blob size) when it is queued and shrinks once its bytes
 * have been handed to the socket.
 *
 * @example
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 * import { dial, serve } from "../../mod.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (c) => {
 *   assertEquals(new TextDecoder().decode((await c.readMessage()).data), "hi");
 * });
 * const conn = await dial(`ws://127.0.0.1:${server.addr.port}`);
 * const queue = new SendQueue(conn);
 * queue.push("hi", 2);
 * assertEquals(queue.bufferedAmount, 2);
 * await queue.close(1000, "");
 * assertEquals(queue.bufferedAmount, 0);
 * await server.shutdown();
 * ```
 */
export class SendQueue {
  #conn: WebSocketConn;
  #items: Item[] = [];
  #head = 0;
  #running: Promise<void> | null = null;
  #failed = false;
  #buffered = 0;

  /**
   * Sends on `conn`.
   *
   * @param conn An open connection.
   */
  constructor(conn: WebSocketConn) {
    this.#conn = conn;
  }

  /** Bytes queued by `push` that have not reached the socket yet. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /**
   * Queues one message.
   *
   * @param data Text, bytes the queue may keep (a copy), or a Blob.
   * @param size Its size as the standard counts it.
   */
  push(data: Outgoing, size: number): void {
    this.#buffered += size;
    if (this.#failed) return;
    this.#items.push({ data, size });
    this.#running ??= this.#run();
  }

  /**
   * Closes the connection after everything queued so far has been written.
   *
   * @param code The close code (default 1000).
   * @param reason The close reason.
   */
  async close(code: number | undefined, reason: string): Promise<void> {
    await this.#running;
    await this.#conn.close(code, reason);
  }

  async #run(): Promise<void> {
    const conn = this.#conn;
    try {
      while (this.#head < this.#items.length) {
        let batch = 0;
        while (this.#head < this.#items.length) {
          const { data, size } = this.#items[this.#head];
          this.#items[this.#head++] = undefined as unknown as Item;
          if (typeof data === "string") {
            await conn.writeMessage(OpCode.Text, data);
          } else {
            const bytes = data instanceof Blob
              ? new Uint8Array(await data.arrayBuffer())
              : data;
            await conn.writeMessage(OpCode.Binary, bytes);
          }
          batch += size;
        }
        this.#items.length = this.#head = 0;
        await conn.flush();
        this.#buffered -= batch;
      }
    } catch {
      // The connection is closing or gone: its reader reports how it ended.
      this.#failed = true;
      this.#items.length = this.#head = 0;
    } finally {
      this.#running = null;
    }
  }
}
