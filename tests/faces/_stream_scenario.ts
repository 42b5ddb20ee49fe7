/**
 * One `WebSocketStream` scenario, run as a script with a constructor chosen by
 * its first argument: `deno` (Deno's unstable class, needs `--unstable-net`) or
 * `ours`. It talks to an echo server at the URL given second, and prints what it
 * saw as one JSON line, so that a test can compare the two classes.
 *
 * ```sh
 * deno run --unstable-net -A tests/faces/_stream_scenario.ts deno ws://127.0.0.1:PORT/
 * ```
 *
 * @module
 */

import { WebSocketStream as Ours } from "../../web.ts";

/** What the scenario reports. */
export interface StreamReport {
  protocol: string;
  extensions: string;
  echoed: unknown[];
  /** The class of a binary message read, such as `"Uint8Array"`. */
  binaryClass: string;
  closed: { closeCode?: number; reason?: string };
  readDone: boolean;
}

type Ctor = new (
  url: string,
  options?: { protocols?: string[] },
) => {
  opened: Promise<{
    readable: ReadableStream<unknown>;
    writable: WritableStream<unknown>;
    protocol: string;
    extensions: string;
  }>;
  closed: Promise<{ closeCode?: number; reason?: string }>;
  close(info?: { closeCode?: number; reason?: string }): void;
};

/** Sends text and binary, reads the echoes, closes with 4000. */
export async function runScenario(
  Class: Ctor,
  url: string,
): Promise<StreamReport> {
  const wss = new Class(url, { protocols: ["echo"] });
  const { readable, writable, protocol, extensions } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const echoed: unknown[] = [];
  await writer.write("hello ".repeat(40));
  echoed.push((await reader.read()).value);
  await writer.write(new Uint8Array([1, 2, 3, 250]));
  const bin = (await reader.read()).value as object;
  const binaryClass = Object.prototype.toString.call(bin).slice(8, -1);
  echoed.push(
    bin instanceof ArrayBuffer
      ? [...new Uint8Array(bin)]
      : [...bin as Uint8Array],
  );
  wss.close({ closeCode: 4000, reason: "scenario over" });
  const closed = await wss.closed;
  const { done } = await reader.read();
  return { protocol, extensions, echoed, binaryClass, closed, readDone: done };
}

if (import.meta.main) {
  const [which, url] = Deno.args;
  const g = globalThis as unknown as { WebSocketStream?: Ctor };
  const Class = which === "deno" ? g.WebSocketStream : Ours as unknown as Ctor;
  if (Class === undefined) {
    throw new Error("no WebSocketStream: run with --unstable-net");
  }
  console.log(JSON.stringify(await runScenario(Class, url)));
}
