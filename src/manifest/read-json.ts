/**
 * JSON manifests. `JSON.parse` decides what is JSON; a linear scan of the same
 * (by then known valid) text finds duplicate keys, which `JSON.parse` silently
 * resolves to the last one and Kubernetes' strict decoding refuses.
 */
import type { FieldError } from "./errors.js";
import { checkShape, type ParseLimits } from "./limits.js";
import { lineCol } from "./source.js";

type ReadResult = { ok: true; values: unknown[] } | { ok: false; errors: FieldError[] };

const MAX_DUPLICATES_REPORTED = 10;

export function readJson(text: string, limits: ParseLimits): ReadResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [syntaxError(error, text)] };
  }
  const shapeError = checkShape(value, limits);
  if (shapeError) return { ok: false, errors: [shapeError] };
  const duplicates = duplicateKeys(text);
  if (duplicates.length > 0) return { ok: false, errors: duplicates };
  return { ok: true, values: Array.isArray(value) ? value : [value] };
}

function syntaxError(error: unknown, text: string): FieldError {
  const raw = error instanceof Error ? error.message : String(error);
  // V8 may quote the whole input in its message; keep only the diagnosis.
  const message = raw.replace(/, ".*" is not valid JSON$/s, "").replace(/ in JSON at position \d+.*$/s, "");
  const position = /at position (\d+)/.exec(raw)?.[1];
  const where = position === undefined ? "" : ` at line ${lineCol(text, Number(position))}`;
  return { path: "", message: `invalid JSON${where}: ${message}` };
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i;
}

/**
 * Duplicate keys of valid JSON text, in one pass: a set of keys per open
 * object (null for arrays). Only called after JSON.parse accepted the text and
 * checkShape bounded its depth, so the scan needs no error handling.
 */
function duplicateKeys(text: string): FieldError[] {
  const errors: FieldError[] = [];
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length && errors.length < MAX_DUPLICATES_REPORTED; i++) {
    const char = text[i];
    if (char === '"') {
      const end = stringEnd(text, i);
      const keys = open.at(-1);
      if (keys && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key))
          errors.push({ path: "", message: `line ${lineCol(text, i)}: duplicate key ${JSON.stringify(key)}` });
        keys.add(key);
      }
      expectKey = false;
      i = end;
    } else if (char === "{" || char === "[") {
      open.push(char === "{" ? new Set() : null);
      expectKey = char === "{";
    } else if (char === "}" || char === "]") {
      open.pop();
    } else if (char === ",") {
      expectKey = Boolean(open.at(-1));
    }
  }
  return errors;
}
