/**
 * A byte `ReadableStream` over a source that reads into a caller's buffer: what
 * the node socket transport and streamed message reads both hand out.
 *
 * @module
 */

/** Reads into the buffer given, or `null` at the end; `cancel` drops the rest. */
export interface PieceSource {
  /** Bytes read into `buf`, or `null` at the end. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Called when the stream's reader cancels. */
  cancel(): void | Promise<void>;
}

/**
 * A byte stream over piece reads: BYOB readers read into their own buffers,
 * default readers get chunks of `autoAllocate` bytes.
 *
 * @example
 * ```ts
 * import { byteStreamOf } from "./byte_stream.ts";
 * import { assertEquals } from "@std/assert";
 *
 * let left = 3;
 * const stream = byteStreamOf({
 *   read: (buf) => Promise.resolve(left-- > 0 ? (buf[0] = 7, 1) : null),
 *   cancel() {},
 * });
 * const chunks = await Array.fromAsync(stream);
 * assertEquals(chunks.map((c) => [...c]), [[7], [7], [7]]);
 * ```
 */
export function byteStreamOf(
  source: PieceSource,
  autoAllocate = 4096,
): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: autoAllocate,
    async pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      const n = await source.read(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
      if (n === null) {
        controller.close();
        request.respond(0);
      } else {
        request.respond(n);
      }
    },
    cancel: () => source.cancel(),
  });
}
