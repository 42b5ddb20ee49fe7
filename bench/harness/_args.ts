/**
 * The one command-line parser of the harness scripts: `--name value` or
 * `--name=value` options and `--name` switches, each read once with its default,
 * then {@linkcode Flags.done} refuses anything left over (a mistyped flag would
 * otherwise measure the defaults without a word).
 *
 * @example Reading flags
 * ```ts
 * import { Flags } from "./_args.ts";
 *
 * const flags = new Flags(["--smoke", "--reps=2", "--sizes", "32,1024"]);
 * const smoke = flags.has("smoke");
 * const reps = flags.number("reps", smoke ? 1 : 3);
 * const sizes = flags.numbers("sizes", [32]);
 * flags.done();
 * console.log(smoke, reps, sizes); // true 2 [32, 1024]
 * ```
 *
 * @module
 */

/** Command-line flags, consumed one name at a time. */
export class Flags {
  #values = new Map<string, string | true>();
  #read = new Set<string>();

  /**
   * @param args The arguments (default `Deno.args`).
   * @throws {TypeError} On an argument that is not a flag.
   */
  constructor(args: readonly string[] = Deno.args) {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (!arg.startsWith("--") || arg.length === 2) {
        throw new TypeError(`Unexpected argument ${arg}`);
      }
      const eq = arg.indexOf("=");
      if (eq > 0) {
        this.#values.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        this.#values.set(arg.slice(2), args[++i]);
      } else {
        this.#values.set(arg.slice(2), true);
      }
    }
  }

  /** Whether the switch `--name` is given. */
  has(name: string): boolean {
    this.#read.add(name);
    const value = this.#values.get(name);
    if (typeof value === "string") {
      throw new TypeError(`--${name} takes no value, got ${value}`);
    }
    return value === true;
  }

  /** The value of `--name`, or `fallback` without it. */
  string(name: string, fallback: string): string;
  /** The value of `--name`, or `undefined` without it. */
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    this.#read.add(name);
    const value = this.#values.get(name);
    if (value === true) throw new TypeError(`--${name} needs a value`);
    return value ?? fallback;
  }

  /**
   * The value of `--name` as a number, or `fallback` without it.
   *
   * @throws {RangeError} When it is not a finite number in `[min, max]`.
   */
  number(name: string, fallback: number, min = 0, max = Infinity): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (text.trim() === "" || !(value >= min && value <= max)) {
      throw new RangeError(`--${name} must be a number from ${min} to ${max}`);
    }
    return value;
  }

  /** The comma-separated value of `--name`, or `fallback` without it. */
  list(name: string, fallback: string[]): string[];
  /** The comma-separated value of `--name`, or `undefined` without it. */
  list(name: string): string[] | undefined;
  list(name: string, fallback?: string[]): string[] | undefined {
    return this.string(name)?.split(",") ?? fallback;
  }

  /**
   * The comma-separated numbers of `--name`, or `fallback` without it.
   *
   * @throws {RangeError} When one is not a positive finite number.
   */
  numbers(name: string, fallback: number[]): number[] {
    const items = this.list(name);
    if (items === undefined) return fallback;
    const values = items.map(Number);
    if (!values.every((v) => v > 0 && Number.isFinite(v))) {
      throw new RangeError(`--${name} must be positive numbers, got ${items}`);
    }
    return values;
  }

  /** @throws {TypeError} When a flag was given that nothing read. */
  done(): void {
    const unknown = [...this.#values.keys()].filter((k) => !this.#read.has(k));
    if (unknown.length > 0) {
      throw new TypeError(
        `Unknown flag ${unknown.map((k) => `--${k}`).join(", ")}`,
      );
    }
  }
}

/**
 * The single JSON argument a load source takes from the runner (the child
 * protocol of `load/generator.ts` and `load/client_load.ts`, kept as it was so
 * that a runner can drive an older checkout's sources).
 *
 * @throws {TypeError} Unless there is exactly one argument and it is a JSON object.
 */
export function jsonArgument<T>(args: readonly string[] = Deno.args): T {
  const value = args.length === 1 ? JSON.parse(args[0]) : null;
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Expected one argument: a JSON object");
  }
  return value as T;
}
