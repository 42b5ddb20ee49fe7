/**
 * The markdown report: a summary per area, then one table row per case.
 *
 * @module
 */

import { AREAS, type CaseResult, type Verdict } from "./_case.ts";

const VERDICTS: Verdict[] = [
  "OK",
  "NON-STRICT",
  "INFORMATIONAL",
  "SKIPPED",
  "FAILED",
];

/** Counts of verdicts per area. */
export function tally(
  results: CaseResult[],
): Map<string, Record<Verdict, number>> {
  const rows = new Map<string, Record<Verdict, number>>();
  for (const area of [...AREAS, "total"]) {
    rows.set(area, {
      OK: 0,
      "NON-STRICT": 0,
      INFORMATIONAL: 0,
      SKIPPED: 0,
      FAILED: 0,
    });
  }
  for (const r of results) {
    rows.get(r.area)![r.verdict]++;
    rows.get("total")![r.verdict]++;
  }
  return rows;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** Renders results of one run as markdown. */
export function renderReport(
  title: string,
  results: CaseResult[],
  meta: Record<string, string>,
): string {
  const lines = [`# ${title}`, ""];
  for (const [k, v] of Object.entries(meta)) lines.push(`- ${k}: ${v}`);
  lines.push(
    "",
    "## Summary",
    "",
    `| Area | Cases | ${VERDICTS.join(" | ")} |`,
  );
  lines.push(`| --- | ---: | ${VERDICTS.map(() => "---:").join(" | ")} |`);
  for (const [area, counts] of tally(results)) {
    const n = VERDICTS.reduce((sum, v) => sum + counts[v], 0);
    if (n === 0 && area !== "total") continue;
    lines.push(
      `| ${area} | ${n} | ${VERDICTS.map((v) => counts[v]).join(" | ")} |`,
    );
  }
  const notOk = results.filter((r) =>
    r.verdict === "FAILED" || r.verdict === "NON-STRICT"
  );
  if (notOk.length > 0) {
    lines.push(
      "",
      "## Not OK",
      "",
      "| Case | Verdict | Reason |",
      "| --- | --- | --- |",
    );
    for (const r of notOk) {
      lines.push(`| ${r.id} | ${r.verdict} | ${cell(r.reason)} |`);
    }
  }
  for (const area of AREAS) {
    const rows = results.filter((r) => r.area === area);
    if (rows.length === 0) continue;
    lines.push(
      "",
      `## ${area}`,
      "",
      "| Case | Description | Expectation | Outcome | Verdict | ms |",
    );
    lines.push("| --- | --- | --- | --- | --- | ---: |");
    for (const r of rows) {
      const verdict = r.reason ? `${r.verdict}: ${r.reason}` : r.verdict;
      lines.push(
        `| ${r.id} | ${cell(r.title)} | ${cell(r.expectation)} | ${
          cell(r.outcome)
        } | ${cell(verdict)} | ${r.durationMs} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** One line per area: "framing 26 (OK 25, FAILED 1)". */
export function summaryLines(results: CaseResult[]): string[] {
  const out: string[] = [];
  for (const [area, counts] of tally(results)) {
    const n = VERDICTS.reduce((sum, v) => sum + counts[v], 0);
    if (n === 0) continue;
    const parts = VERDICTS.filter((v) => counts[v] > 0).map((v) =>
      `${v} ${counts[v]}`
    );
    out.push(
      `${area.padEnd(18)} ${String(n).padStart(4)}  (${parts.join(", ")})`,
    );
  }
  return out;
}
