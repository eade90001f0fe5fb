/**
 * Checks that span several fields collect their findings as plain data (a
 * path relative to the object checked, and a message), so they stay pure and
 * testable; one call hands them to zod.
 */
import type { z } from "zod";

export type Issue = { path: (string | number)[]; message: string };

export function addIssues(ctx: z.core.$RefinementCtx, issues: readonly Issue[]): void {
  for (const issue of issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
}

/** The same issues, seen from the parent object that holds the checked one at `prefix`. */
export function under(prefix: readonly (string | number)[], issues: readonly Issue[]): Issue[] {
  return issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] }));
}
