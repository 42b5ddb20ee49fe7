/**
 * One behaviour suite for any class with the WHATWG `WebSocket` interface: run
 * against this module's class and against Deno's built-in one, with the same
 * peer and the same assertions. Only `extensions` may differ (compression).
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { type Peer, startPeer } from "./_peer.ts";

/** What the suite needs of a constructor: the standard's. */
export type WebSocketClass = {
  new (url: string | URL, protocols?: string | string[]): WebSocket;
  readonly CONNECTING: number;
  readonly OPEN: number;
  readonly CLOSING: number;
  readonly CLOSED: number;
};

/** One dispatched event, with the readyState seen during its dispatch. */
export interface Seen {
  type: string;
  state: number;
  event: Event;
}

/** Records every event of the four kinds, in order. */
export function record(ws: WebSocket): Seen[] {
  const seen: Seen[] = [];
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(
      type,
      (event) =>
        seen.push({
          type,
          state: ws.readyState,
          event: event as unknown as Event,
        }),
    );
  }
  return seen;
}

/** Resolves with the next event of `type`, or rejects after `ms`. */
export function next<E extends Event = Event>(
  ws: WebSocket,
  type: string,
  ms = 5_000,
): Promise<E> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${type} event within ${ms} ms`)),
      ms,
    );
    ws.addEventListener(type, (e) => {
      clearTimeout(timer);
      resolve(e as E);
    }, { once: true });
  });
}

/** Resolves with the next `count` messages' data. */
function messages(
  ws: WebSocket,
  count: number,
  ms = 5_000,
): Promise<unknown[]> {
  const out: unknown[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`${out.length}/${count} messages within ${ms} ms`)),
      ms,
    );
    const on = (e: MessageEvent) => {
      out.push(e.data);
      if (out.length < count) return;
      clearTimeout(timer);
      ws.removeEventListener("message", on);
      resolve(out);
    };
    ws.addEventListener("message", on);
  });
}

/** Closes (if still open) and waits for the close event. */
async function closeAndWait(ws: WebSocket): Promise<CloseEvent> {
  if (ws.readyState === 3) {
    return new CloseEvent("close", { code: 1005 });
  }
  const closed = next<CloseEvent>(ws, "close");
  ws.close();
  return await closed;
}

const dec = new TextDecoder();

/**
 * Where an implementation is known to differ from the standard: the suite then
 * asserts the known value instead, so that a change on either side is seen.
 */
export interface Deviations {
  /** The close code reported for an abnormal closure, where it is not 1006. */
  abnormalCode?: number;
  /** `MessageEvent.origin` is the socket's URL, not the URL's origin. */
  originIsUrl?: boolean;
  /** `send` after close does not add to `bufferedAmount`. */
  lateSendsUncounted?: boolean;
}

/**
 * Registers the suite's tests for `Ctor`, each named `[name] …`.
 *
 * @param name A label for the implementation.
 * @param Ctor The class under test.
 * @param deviations Known differences from the standard.
 */
export function websocketBehaviour(
  name: string,
  Ctor: WebSocketClass,
  deviations: Deviations = {},
): void {
  const abnormal = deviations.abnormalCode ?? 1006;
  const test = (title: string, fn: (peer: Peer) => Promise<void>) =>
    Deno.test(`[${name}] ${title}`, async () => {
      await using peer = startPeer();
      await fn(peer);
    });

  test("constants on the class and on instances; initial state", async (peer) => {
    assertEquals(
      [Ctor.CONNECTING, Ctor.OPEN, Ctor.CLOSING, Ctor.CLOSED],
      [0, 1, 2, 3],
    );
    const ws = new Ctor(`${peer.url}/echo`);
    assertEquals([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assertEquals(ws.readyState, Ctor.CONNECTING);
    assertEquals(ws.url, `${peer.url}/echo`);
    assertEquals(ws.binaryType, "blob");
    assertEquals(ws.bufferedAmount, 0);
    assertEquals(ws.protocol, "");
    assertEquals(ws.extensions, "");
    assertInstanceOf(ws, EventTarget);
    await next(ws, "open");
    assertEquals(ws.readyState, Ctor.OPEN);
    await closeAndWait(ws);
  });

  test("the URL: http becomes ws; bad URLs, schemes, fragments and subprotocols are SyntaxErrors", async (peer) => {
    const port = new URL(peer.url).port;
    const ws = new Ctor(`http://127.0.0.1:${port}/echo?x=1`);
    assertEquals(ws.url, `ws://127.0.0.1:${port}/echo?x=1`);
    for (
      const [url, protocols] of [
        ["not a url", undefined],
        ["ftp://127.0.0.1/", undefined],
        [`${peer.url}/#frag`, undefined],
        [`${peer.url}/`, ["chat", "chat"]],
        [`${peer.url}/`, ["bad token"]],
        [`${peer.url}/`, [""]],
      ] as [string, string[] | undefined][]
    ) {
      const err = assertThrows(() => new Ctor(url, protocols));
      assertInstanceOf(err, DOMException);
      assertEquals(err.name, "SyntaxError", url);
    }
    await next(ws, "open");
    await closeAndWait(ws);
  });

  test("send while connecting is an InvalidStateError; close's code and reason are checked", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    const sendErr = assertThrows(() => ws.send("early"));
    assertInstanceOf(sendErr, DOMException);
    assertEquals(sendErr.name, "InvalidStateError");
    for (const code of [999, 1001, 1005, 2999, 5000]) {
      const err = assertThrows(() => ws.close(code));
      assertInstanceOf(err, DOMException);
      assertEquals(err.name, "InvalidAccessError", `code ${code}`);
    }
    const long = assertThrows(() => ws.close(1000, "é".repeat(62)));
    assertInstanceOf(long, DOMException);
    assertEquals(long.name, "SyntaxError");
    assertEquals(ws.readyState, Ctor.CONNECTING);
    await next(ws, "open");
    await closeAndWait(ws);
  });

  test("the server's subprotocol choice shows in protocol", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`, ["superchat", "chat"]);
    await next(ws, "open");
    assertEquals(ws.protocol, "superchat");
    assertEquals(typeof ws.extensions, "string");
    await closeAndWait(ws);
  });

  test("text, ArrayBuffer, views, Blob and coerced values echo back in order", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    ws.binaryType = "arraybuffer";
    assertEquals(ws.binaryType, "arraybuffer");
    await next(ws, "open");
    const got = messages(ws, 6);
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    ws.send(backing.subarray(1, 4));
    ws.send(new Blob([new Uint8Array([4, 5])]));
    ws.send("after the blob");
    ws.send(new DataView(new Uint8Array([6]).buffer));
    backing.fill(0);
    const data = await got;
    assertEquals(data[0], "héllo");
    for (const i of [1, 2, 3, 5]) assertInstanceOf(data[i], ArrayBuffer);
    assertEquals(
      new Uint8Array(data[1] as ArrayBuffer),
      new Uint8Array([1, 2, 3]),
    );
    assertEquals(
      new Uint8Array(data[2] as ArrayBuffer),
      new Uint8Array([1, 2, 3]),
    );
    assertEquals(
      new Uint8Array(data[3] as ArrayBuffer),
      new Uint8Array([4, 5]),
    );
    assertEquals(data[4], "after the blob");
    assertEquals(new Uint8Array(data[5] as ArrayBuffer), new Uint8Array([6]));
    await closeAndWait(ws);
  });

  test("binary arrives as a Blob by default; MessageEvent carries the origin", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    await next(ws, "open");
    const msg = next<MessageEvent>(ws, "message");
    ws.send(new Uint8Array([7, 8]));
    const e = await msg;
    assertInstanceOf(e, MessageEvent);
    assertInstanceOf(e.data, Blob);
    assertEquals(
      new Uint8Array(await (e.data as Blob).arrayBuffer()),
      new Uint8Array([7, 8]),
    );
    assertEquals(
      e.origin,
      deviations.originIsUrl ? ws.url : new URL(peer.url).origin,
    );
    await closeAndWait(ws);
  });

  test("a burst of messages arrives complete and in order", async (peer) => {
    const ws = new Ctor(`${peer.url}/burst?n=300`);
    const got = messages(ws, 300);
    await next(ws, "open");
    const data = await got;
    assertEquals(data, Array.from({ length: 300 }, (_, i) => String(i)));
    await closeAndWait(ws);
  });

  test("bufferedAmount grows by what send queued and drains to 0", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    await next(ws, "open");
    const got = messages(ws, 3);
    ws.send("abcd");
    ws.send("é");
    ws.send(new Uint8Array(10));
    assertEquals(ws.bufferedAmount, 4 + 2 + 10);
    await got;
    assertEquals(ws.bufferedAmount, 0);
    await closeAndWait(ws);
  });

  test("events are never dispatched inside send or close; close starts CLOSING", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    const seen = record(ws);
    await next(ws, "open");
    let inside = true;
    const during: string[] = [];
    ws.addEventListener("message", () => inside && during.push("message"));
    ws.addEventListener("close", () => inside && during.push("close"));
    const closed = next<CloseEvent>(ws, "close");
    ws.send("x");
    ws.close(4000, "done");
    assertEquals(ws.readyState, Ctor.CLOSING);
    inside = false;
    const e = await closed;
    assertEquals(during, []);
    assertEquals(e.code, 4000); // the server echoed the code, without a reason
    assertEquals(e.reason, "");
    assertEquals(e.wasClean, true);
    assertEquals(ws.readyState, Ctor.CLOSED);
    assertEquals(seen.map((s) => s.type).filter((t) => t !== "message"), [
      "open",
      "close",
    ]);
    assertEquals(seen.at(-1)?.state, Ctor.CLOSED);
    // Sending once closing is no error: the data is only counted.
    ws.send("late");
    assertEquals(ws.bufferedAmount, deviations.lateSendsUncounted ? 0 : 4);
    await waitUntil(() => peer.closes.length === 1);
    assertEquals(peer.closes[0], { code: 4000, reason: "done" });
  });

  test("a close by the server is clean: its code and reason, no error event", async (peer) => {
    const ws = new Ctor(`${peer.url}/close?code=4001&reason=bye`);
    const seen = record(ws);
    const e = await next<CloseEvent>(ws, "close");
    assertInstanceOf(e, CloseEvent);
    assertEquals([e.wasClean, e.code, e.reason], [true, 4001, "bye"]);
    assertEquals(seen.map((s) => s.type), ["open", "close"]);
    assertEquals(ws.readyState, Ctor.CLOSED);
  });

  test("a refused handshake fires error, then close with 1006", async (peer) => {
    const ws = new Ctor(`${peer.url}/reject`);
    const seen = record(ws);
    const e = await next<CloseEvent>(ws, "close");
    assertEquals(seen.map((s) => [s.type, s.state]), [["error", 3], [
      "close",
      3,
    ]]);
    assertEquals([e.wasClean, e.code], [false, abnormal]);
  });

  test("a port nobody listens on fires error, then close with 1006", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const ws = new Ctor(`ws://127.0.0.1:${port}/`);
    const seen = record(ws);
    const e = await next<CloseEvent>(ws, "close");
    assertEquals(seen.map((s) => s.type), ["error", "close"]);
    assertEquals([e.wasClean, e.code], [false, abnormal]);
  });

  test("a dropped connection closes with 1006, not clean", async (peer) => {
    const ws = new Ctor(`${peer.url}/drop`);
    const seen = record(ws);
    const e = await next<CloseEvent>(ws, "close");
    assertEquals([e.wasClean, e.code], [false, abnormal]);
    assertEquals(seen[0].type, "open");
    assertEquals(seen.at(-1)?.type, "close");
  });

  test("close while connecting fails the connection: error, then close", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    const seen = record(ws);
    ws.close();
    assertEquals(ws.readyState, Ctor.CLOSING);
    const e = await next<CloseEvent>(ws, "close");
    assertEquals(seen.map((s) => [s.type, s.state]), [["error", 3], [
      "close",
      3,
    ]]);
    assertEquals([e.wasClean, e.code], [false, abnormal]);
  });

  test("the on… attributes: one handler each, replaced in place, null removes", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    const calls: string[] = [];
    assertEquals(ws.onmessage, null);
    ws.onmessage = () => calls.push("first");
    ws.addEventListener("message", () => calls.push("listener"));
    ws.onmessage = () => calls.push("second");
    await next(ws, "open");
    const one = next(ws, "message");
    ws.send("a");
    await one;
    assertEquals(calls, ["second", "listener"]);
    ws.onmessage = null;
    assertEquals(ws.onmessage, null);
    const two = next(ws, "message");
    ws.send("b");
    await two;
    assertEquals(calls, ["second", "listener", "listener"]);
    await closeAndWait(ws);
  });

  test("text received is a string; an empty binary message is an empty ArrayBuffer", async (peer) => {
    const ws = new Ctor(`${peer.url}/echo`);
    ws.binaryType = "arraybuffer";
    await next(ws, "open");
    const got = messages(ws, 2);
    ws.send(new Uint8Array(0));
    ws.send("");
    const [empty, text] = await got;
    assertInstanceOf(empty, ArrayBuffer);
    assertEquals((empty as ArrayBuffer).byteLength, 0);
    assertEquals(text, "");
    assert(dec.decode(new Uint8Array(0)) === "");
    await closeAndWait(ws);
  });
}

/** Polls `cond` every 10 ms, for at most 2 s. */
export async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert(cond(), "condition not met within 2 s");
}
