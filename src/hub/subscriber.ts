/**
 * One connection as the hub sees it: its topics, the messages waiting for it,
 * and how its bytes are made.
 *
 * @module
 */

import { Conn } from "../conn/conn.ts";
import { PreparedMessage } from "../conn/prepared_message.ts";
import { OpCode } from "../codec/opcode.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { PerMessageDeflateConn } from "../deflate/permessage_deflate_conn.ts";

/** How a subscriber's frames are made. */
export const Kind = {
  /** A plain server `Conn`: the prepared frame, as it is. */
  Plain: 0,
  /** A server with permessage-deflate: frames it can share with its peers. */
  Shared: 1,
  /** Anything else: each message through `writePrepared`. */
  Own: 2,
} as const;
/** One of {@linkcode Kind}. */
export type Kind = typeof Kind[keyof typeof Kind];

const PROBE = new PreparedMessage(OpCode.Binary, new Uint8Array(0));

function kindOf(conn: WebSocketConn): Kind {
  if (conn.role === "client") return Kind.Own;
  if (conn instanceof Conn) return Kind.Plain;
  // A deflate connection that shares frames shares them for every message.
  if (conn instanceof PerMessageDeflateConn && conn.frameFor(PROBE) !== null) {
    return Kind.Shared;
  }
  return Kind.Own;
}

/** A connection's subscriptions and queue. */
export class Subscriber {
  readonly conn: WebSocketConn;
  readonly kind: Kind;
  readonly topics: Set<string> = new Set();
  /** Messages waiting for the next write, in publish order. */
  pending: PreparedMessage[] = [];
  /** The frame bytes of `pending`. */
  pendingBytes = 0;
  /** Messages in the write in progress, or -1 when none is. */
  writing = -1;
  /** Whether it waits in the hub's list for the next flush. */
  scheduled = false;
  /** Whether it left the hub (closed, or dropped for being slow). */
  removed = false;
  /** Messages dropped for it past the bound. */
  dropped = 0;
  /** Set by the hub: called when a write settles. */
  onWritten: () => void = noop;
  onFailed: (err: unknown) => void = noop;
  #spare: PreparedMessage[] = [];

  constructor(conn: WebSocketConn) {
    this.conn = conn;
    this.kind = kindOf(conn);
  }

  /** Takes the pending messages, leaving an empty list (the two lists alternate). */
  take(): PreparedMessage[] {
    const taken = this.pending;
    this.#spare.length = 0;
    this.pending = this.#spare;
    this.#spare = taken;
    this.pendingBytes = 0;
    return taken;
  }
}

function noop(): void {}
