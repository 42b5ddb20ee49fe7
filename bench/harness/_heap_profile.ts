/**
 * Where the bytes go: V8's sampling heap profiler through `node:inspector`,
 * counting objects that were already collected too, summed by allocation site.
 *
 * @module
 */

import { Session } from "node:inspector";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}

/** One allocation site: the allocating frame and its two callers. */
export interface Site {
  /** `function file:line` for the frame and its callers, innermost first. */
  stack: string;
  /** Bytes allocated there over the sampled period (an estimate). */
  bytes: number;
}

const session = new Session();
session.connect();

function post<T>(method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (err: Error | null, result: unknown) => {
      if (err) reject(err);
      else resolve(result as T);
    });
  });
}

/** Starts sampling every ~`interval` bytes allocated. */
export async function startSampling(interval = 64): Promise<void> {
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: interval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

function frameName(frame: CallFrame): string {
  const file = frame.url.slice(frame.url.lastIndexOf("/") + 1) || "(native)";
  return `${frame.functionName || "(anonymous)"} ${file}:${
    frame.lineNumber + 1
  }`;
}

/** Stops sampling and returns the allocation sites, largest first. */
export async function stopSampling(): Promise<Site[]> {
  const { profile } = await post<{ profile: { head: ProfileNode } }>(
    "HeapProfiler.stopSampling",
  );
  await post("HeapProfiler.disable");
  const sites = new Map<string, number>();
  const walk = (node: ProfileNode, callers: string[]) => {
    const name = frameName(node.callFrame);
    const stack = [name, ...callers.slice(0, 2)].join(" < ");
    if (node.selfSize > 0) {
      sites.set(stack, (sites.get(stack) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, [name, ...callers]);
  };
  walk(profile.head, []);
  return [...sites].map(([stack, bytes]) => ({ stack, bytes }))
    .sort((a, b) => b.bytes - a.bytes);
}
