/**
 * Process CPU time from `/proc/PID/stat`, and the statistics the load reports use.
 *
 * @module
 */

/** Clock ticks per second of `/proc` times (`getconf CLK_TCK` on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * The CPU time a process has used so far (user + system, all threads), in ms, or
 * `NaN` when it cannot be read.
 *
 * @param pid The process, or `"self"`.
 */
export function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * CPU time the whole machine has spent so far, in ms: in processes (user, nice and
 * system time, which per-process figures add up to) and in interrupts (irq and
 * softirq time, where the kernel does much of loopback TCP and charges no process).
 */
export function machineMs(): { processes: number; interrupts: number } {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    return {
      processes: ((t[0] + t[1] + t[2]) * 1000) / TICKS_PER_SECOND,
      interrupts: ((t[5] + t[6]) * 1000) / TICKS_PER_SECOND,
    };
  } catch {
    return { processes: NaN, interrupts: NaN };
  }
}

/** The resident set size of a process, in bytes, or `NaN`. */
export function rssBytes(pid: number | "self"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** The `q` quantile (0-1) of `sorted`, which must be sorted ascending. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = Math.min(sorted.length - 1, Math.floor(q * sorted.length));
  return sorted[at];
}

/** The median of `values` (NaN ignored). */
export function median(values: number[]): number {
  const known = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (known.length === 0) return NaN;
  const mid = known.length >> 1;
  return known.length % 2 === 1
    ? known[mid]
    : (known[mid - 1] + known[mid]) / 2;
}
