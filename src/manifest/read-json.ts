/**
 * JSON manifests. `JSON.parse` decides what is JSON; the YAML composer (JSON is
 * YAML) is then run over the same text only to find duplicate keys, which
 * `JSON.parse` silently resolves to the last one and Kubernetes' strict decoding
 * refuses.
 */
import { Composer, Lexer, Parser } from "yaml";
import type { FieldError } from "./errors.js";
import { checkShape, type ParseLimits } from "./limits.js";
import { keyAt, lineCol } from "./source.js";

type ReadResult = { ok: true; values: unknown[] } | { ok: false; errors: FieldError[] };

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

/** Only called on text that `JSON.parse` accepted and `checkShape` bounded, so the composer's recursion is bounded too. */
function duplicateKeys(text: string): FieldError[] {
  const parser = new Parser();
  const composer = new Composer({ uniqueKeys: true });
  const errors: FieldError[] = [];
  const tokens = (function* () {
    for (const lexeme of new Lexer().lex(text)) yield* parser.next(lexeme);
    yield* parser.end();
  })();
  for (const doc of composer.compose(tokens)) {
    for (const error of doc.errors) {
      if (error.code !== "DUPLICATE_KEY") continue;
      const [start] = error.pos;
      errors.push({
        path: "",
        message: `line ${lineCol(text, start)}: duplicate key ${JSON.stringify(keyAt(text, start))}`,
      });
    }
  }
  return errors;
}
