/**
 * Masking 16 bytes per step with WebAssembly SIMD: about four times the speed
 * of 32-bit JavaScript words, but only for bytes that live in WebAssembly
 * memory. There are two kinds: one fixed block, from which the buffer pool
 * carves read buffers, and a memory of its own for each large message buffer.
 * None ever grows (growing would detach every view of it); each is made on
 * first use. Where WebAssembly or its SIMD is missing there are none, and
 * masking stays in JavaScript.
 *
 * @module
 */

/**
 * The block's size in 64 KiB pages: 4 MiB (32 burst buffers, 1,024 chunks of 4
 * KiB), resident once used, as the pool keeps up to 4 MiB per size anyway.
 * Buffers past it are plain and masked in JavaScript.
 */
const PAGES = 64;

/** `x(at, n, word)`'s body: XOR 16 bytes per step while `n` >= 16. */
const XOR_BODY = [
  ...[0x01, 0x01, 0x7b], // one local: v (v128)
  ...[0x20, 0x02, 0xfd, 0x11, 0x21, 0x03], // v = i32x4.splat(word)
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x01, 0x41, 0x10, 0x49, 0x0d, 0x01], // break out if n < 16
  ...[0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00], // at, v128.load(at)
  ...[0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x00, 0x00], // v128.store(at, loaded ^ v)
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00], // at += 16
  ...[0x20, 0x01, 0x41, 0x10, 0x6b, 0x21, 0x01], // n -= 16
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x0b], // continue; end loop, block, function
];

/**
 * `y(from, to, n, word)`'s body: the same XOR, storing 16 bytes per step at
 * `to` (at or below `from`: every load comes before the stores that reach it).
 */
const MOVE_BODY = [
  ...[0x01, 0x01, 0x7b], // one local: v (v128)
  ...[0x20, 0x03, 0xfd, 0x11, 0x21, 0x04], // v = i32x4.splat(word)
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x02, 0x41, 0x10, 0x49, 0x0d, 0x01], // break out if n < 16
  ...[0x20, 0x01, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00], // to, v128.load(from)
  ...[0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x00, 0x00], // v128.store(to, loaded ^ v)
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00], // from += 16
  ...[0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01], // to += 16
  ...[0x20, 0x02, 0x41, 0x10, 0x6b, 0x21, 0x02], // n -= 16
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x0b], // continue; end loop, block, function
];

/** A module section: its id, its size (under 16,384 bytes: LEB128 in two bytes at most), its bytes. */
function section(id: number, bytes: number[]): number[] {
  const n = bytes.length;
  const size = n < 0x80 ? [n] : [(n & 0x7f) | 0x80, n >> 7];
  return [id, ...size, ...bytes];
}

/**
 * The module, assembled by hand: the functions `x` and `y` over an imported
 * memory (`e.m`, any size). Each memory gets an instance of its own.
 */
const MODULE = Uint8Array.of(
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [
    ...[0x02, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00], // (i32 i32 i32) -> ()
    ...[0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00], // (i32 i32 i32 i32) -> ()
  ]),
  ...section(2, [0x01, 0x01, 0x65, 0x01, 0x6d, 0x02, 0x00, 0x00]), // memory "e" "m", min 0
  ...section(3, [0x02, 0x00, 0x01]), // function 0 has type 0, function 1 type 1
  ...section(7, [0x02, 0x01, 0x78, 0x00, 0x00, 0x01, 0x79, 0x00, 0x01]), // export "x", "y"
  ...section(10, [
    0x02,
    ...[XOR_BODY.length, ...XOR_BODY],
    ...[MOVE_BODY.length, ...MOVE_BODY],
  ]),
);

/** A WebAssembly memory and its masking functions. */
export interface SimdMemory {
  /** All of the memory's bytes. */
  readonly bytes: Uint8Array;
  /** XORs `bytes[at..at + n - n % 16)` with `word` (little-endian key bytes). */
  readonly xor: (at: number, n: number, word: number) => void;
  /**
   * Writes `bytes[from..from + n - n % 16)` XORed with `word` to `bytes[to..]`,
   * `to <= from`: unmasks and moves down in one pass.
   */
  readonly move: (from: number, to: number, n: number, word: number) => void;
}

let block: SimdMemory | null | undefined;
/** The block's memory, compared by masking on every call. */
let blockBuffer: ArrayBufferLike | null = null;

/**
 * The SIMD block, made on the first call; `null` where WebAssembly SIMD is
 * unavailable.
 *
 * @example
 * ```ts
 * import { simdBlock } from "./simd_mask.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const simd = simdBlock();
 * if (simd !== null) {
 *   simd.bytes.fill(0x0f, 0, 16);
 *   simd.xor(0, 16, 0x0f0f0f0f);
 *   assertEquals(simd.bytes[15], 0);
 * }
 * ```
 */
export function simdBlock(): SimdMemory | null {
  if (block === undefined) {
    block = makeMemory(PAGES);
    blockBuffer = block?.bytes.buffer ?? null;
  }
  return block;
}

/**
 * The block if one was made already: what masking checks, never making one.
 *
 * @example
 * ```ts
 * import { existingSimdBlock, simdBlock } from "./simd_mask.ts";
 * import { assert } from "@std/assert";
 *
 * const made = simdBlock();
 * assert(existingSimdBlock() === made);
 * ```
 */
export function existingSimdBlock(): SimdMemory | null {
  return block ?? null;
}

/** The module, compiled on first use; `null` where it does not compile. */
let compiled: WebAssembly.Module | null | undefined;

/**
 * `pages` of fresh WebAssembly memory (which can never grow) with its
 * masking function, or `null` where WebAssembly SIMD is unavailable or the
 * memory cannot be had.
 */
function makeMemory(pages: number): SimdMemory | null {
  try {
    compiled ??= new WebAssembly.Module(MODULE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(compiled, { e: { m: memory } });
    return {
      bytes: new Uint8Array(memory.buffer),
      xor: instance.exports.x as SimdMemory["xor"],
      move: instance.exports.y as SimdMemory["move"],
    };
  } catch {
    compiled ??= null;
    return null;
  }
}

/** The memories made by {@linkcode simdMemory}, by buffer: what masking looks up. */
const memories = new WeakMap<ArrayBufferLike, SimdMemory>();

/**
 * At least `size` bytes of WebAssembly memory of their own, masked by SIMD:
 * for a buffer too large for the block (a large message's). Its memory is
 * collected with its last view. `null` where WebAssembly SIMD is unavailable.
 *
 * @example
 * ```ts
 * import { simdMemory } from "./simd_mask.ts";
 * import { assert } from "@std/assert";
 *
 * const memory = simdMemory(100_000);
 * if (memory !== null) assert(memory.bytes.length >= 100_000);
 * ```
 */
export function simdMemory(size: number): SimdMemory | null {
  const made = makeMemory(Math.ceil(size / 65536));
  if (made !== null) memories.set(made.bytes.buffer, made);
  return made;
}

/**
 * The SIMD masking function for bytes of `buffer`, if it is the block's or one
 * of {@linkcode simdMemory}'s, else `null`.
 *
 * @example
 * ```ts
 * import { simdMemory, simdXorOf } from "./simd_mask.ts";
 * import { assert } from "@std/assert";
 *
 * const memory = simdMemory(1);
 * if (memory !== null) assert(simdXorOf(memory.bytes.buffer) === memory.xor);
 * assert(simdXorOf(new ArrayBuffer(8)) === null);
 * ```
 */
export function simdXorOf(buffer: ArrayBufferLike): SimdMemory["xor"] | null {
  if (buffer === blockBuffer) return block!.xor;
  return memories.get(buffer)?.xor ?? null;
}

/**
 * The SIMD unmask-and-move function for bytes of `buffer`, if it is one of
 * {@linkcode simdMemory}'s (large message buffers), else `null`.
 *
 * @example
 * ```ts
 * import { simdMemory, simdMoveOf } from "./simd_mask.ts";
 * import { assert } from "@std/assert";
 *
 * const memory = simdMemory(1);
 * if (memory !== null) assert(simdMoveOf(memory.bytes.buffer) === memory.move);
 * assert(simdMoveOf(new ArrayBuffer(8)) === null);
 * ```
 */
export function simdMoveOf(
  buffer: ArrayBufferLike,
): SimdMemory["move"] | null {
  return memories.get(buffer)?.move ?? null;
}
