/**
 * Multi-document YAML into plain values, bounded. The lexer and parser of the
 * `yaml` package are driven token by token so that nesting depth and document
 * count are checked while parsing, before the recursive composer or the alias
 * expansion of `toJS` can run away on a hostile document.
 */
import { Composer, type CST, type Document, Lexer, Parser, type YAMLError } from "yaml";
import type { FieldError } from "./errors.js";
import { checkShape, type ParseLimits, tooDeep, tooManyAliases, tooManyDocuments } from "./limits.js";
import { keyAt, lineCol } from "./source.js";

type ReadResult = { ok: true; values: unknown[] } | { ok: false; errors: FieldError[] };

class NestingTooDeep extends Error {}

/** At most this many errors per document: after a syntax error the rest is mostly cascade. */
const MAX_ERRORS_PER_DOCUMENT = 10;

export function readYaml(text: string, limits: ParseLimits): ReadResult {
  const composer = new Composer({ uniqueKeys: true, merge: false });
  const values: unknown[] = [];
  const errors: FieldError[] = [];
  try {
    for (const doc of composer.compose(boundedTokens(text, limits))) {
      const read = readDocument(doc, text, limits);
      if ("errors" in read) errors.push(...read.errors);
      else if (read.value !== null && read.value !== undefined) values.push(read.value);
      if (values.length > limits.maxDocuments) return { ok: false, errors: [tooManyDocuments(limits)] };
    }
  } catch (error) {
    if (error instanceof NestingTooDeep || error instanceof RangeError) return { ok: false, errors: [tooDeep(limits)] };
    throw error;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}

/**
 * The parser keeps one stack entry per open collection (two for a mapping in a
 * sequence item), so its stack height bounds the depth the composer will recurse to.
 */
function* boundedTokens(text: string, limits: ParseLimits): Generator<CST.Token> {
  const parser = new Parser();
  const maxStack = 2 * limits.maxDepth + 4;
  for (const lexeme of new Lexer().lex(text)) {
    yield* parser.next(lexeme);
    if (parser.stack.length > maxStack) throw new NestingTooDeep();
  }
  yield* parser.end();
}

function readDocument(
  doc: Document.Parsed,
  text: string,
  limits: ParseLimits,
): { value: unknown } | { errors: FieldError[] } {
  if (doc.errors.length > 0) return { errors: describeErrors(doc.errors, text) };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message) && !/Unresolved/.test(error.message)) {
      return { errors: [tooManyAliases(limits)] };
    }
    return { errors: [{ path: "", message: error instanceof Error ? error.message : String(error) }] };
  }
  const shapeError = checkShape(value, limits);
  return shapeError ? { errors: [shapeError] } : { value };
}

/** Every duplicate key, but only the first syntax error: those that follow it are usually its echo. */
function describeErrors(errors: readonly YAMLError[], text: string): FieldError[] {
  const firstSyntax = errors.find((error) => error.code !== "DUPLICATE_KEY");
  const shown = errors.filter((error) => error.code === "DUPLICATE_KEY" || error === firstSyntax);
  return shown.slice(0, MAX_ERRORS_PER_DOCUMENT).map((error) => {
    const [start] = error.pos;
    const message =
      error.code === "DUPLICATE_KEY" ? `duplicate key ${JSON.stringify(keyAt(text, start))}` : error.message;
    return { path: "", message: `line ${lineCol(text, start)}: ${message}` };
  });
}
