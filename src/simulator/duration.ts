/**
 * Durations in scenario files: `500ms`, `40s`, `2m`, `1h30m`, `1.5s`, or a bare
 * number of seconds (as Kubernetes' `…Seconds` fields count). Parsed into whole
 * milliseconds; formatted back the same way for reports.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds, or `undefined` when the text is not a duration. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value * 1_000) : undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1_000);
  let totalMs = 0;
  PART.lastIndex = 0;
  // Bounded by the text's length: every match consumes at least two characters.
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (!match) return undefined;
    totalMs += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return Math.round(totalMs);
}

/** `125_400` → `2m5.4s`; `0` → `0s`. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) {
    parts.push(rest % 1_000 === 0 ? `${rest / 1_000}s` : rest < 1_000 ? `${rest}ms` : `${rest / 1_000}s`);
  }
  return sign + parts.join("");
}
