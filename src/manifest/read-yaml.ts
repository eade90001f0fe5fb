/**
 * Multi-document YAML into plain values, bounded. The lexer and parser of the
 * `yaml` package are driven token by token so that nesting depth and document
 * count are checked while parsing, before the recursive composer or the alias
 * expansion of `toJS` can run away on a hostile document.
 */
import { Composer, type CST, type Document, isScalar, Lexer, Parser, visit, type YAMLError } from "yaml";
import type { FieldError } from "./errors.js";
import {
  checkShape,
  type ParseLimits,
  type ShapeBudget,
  shapeBudget,
  tooDeep,
  tooManyAliases,
  tooManyDocuments,
} from "./limits.js";
import { lineCol } from "./source.js";

type ReadResult = { ok: true; values: unknown[] } | { ok: false; errors: FieldError[] };

class NestingTooDeep extends Error {}

/** Duplicate keys reported per document; a file full of them needs fixing at the source, not a longer list. */
const MAX_DUPLICATES_PER_DOCUMENT = 10;

/**
 * Empty documents are skipped, not counted, but each still costs a parse;
 * generated files (helm output) hold many, so allow plenty, not unboundedly many.
 */
const EMPTY_DOCUMENTS_PER_DOCUMENT = 10;

export function readYaml(text: string, limits: ParseLimits): ReadResult {
  // `uniqueKeys` is off because the library checks it pairwise (quadratic in a
  // mapping's size); duplicateKeys below does the same check in linear time.
  // The schema is pinned: otherwise a `%YAML 1.1` directive would switch a document to
  // YAML 1.1 (Date objects for timestamps, `yes` as true, merge keys).
  const composer = new Composer({ uniqueKeys: false, merge: false, schema: "core", version: "1.2" });
  const maxRawDocuments = EMPTY_DOCUMENTS_PER_DOCUMENT * limits.maxDocuments + 1;
  const values: unknown[] = [];
  const errors: FieldError[] = [];
  const budget = shapeBudget(limits);
  let rawDocuments = 0;
  try {
    for (const doc of composer.compose(boundedTokens(text, limits))) {
      rawDocuments++;
      const read = readDocument(doc, text, limits, budget);
      if ("errors" in read) errors.push(...read.errors);
      else if (read.value !== null && read.value !== undefined) values.push(read.value);
      if (values.length > limits.maxDocuments) return { ok: false, errors: [tooManyDocuments(limits)] };
      if (rawDocuments > maxRawDocuments) {
        const message = `manifest has more than ${maxRawDocuments} YAML documents, empty ones included; the limit is ${maxRawDocuments}`;
        return { ok: false, errors: [{ path: "", message }] };
      }
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
  budget: ShapeBudget,
): { value: unknown } | { errors: FieldError[] } {
  if (doc.errors.length > 0) return { errors: describeErrors(doc.errors, text) };
  const duplicates = duplicateKeys(doc, text);
  if (duplicates.length > 0) return { errors: duplicates };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message) && !/Unresolved/.test(error.message)) {
      return { errors: [tooManyAliases(limits)] };
    }
    return { errors: [{ path: "", message: error instanceof Error ? error.message : String(error) }] };
  }
  const shapeError = checkShape(value, limits, budget);
  return shapeError ? { errors: [shapeError] } : { value };
}

/** Only the first syntax error: those that follow it are usually its echo. */
function describeErrors(errors: readonly YAMLError[], text: string): FieldError[] {
  const [first] = errors;
  if (!first) return [];
  return [{ path: "", message: `line ${lineCol(text, first.pos[0])}: ${first.message}` }];
}

/**
 * Kubernetes' strict decoding refuses a key given twice (YAML would silently
 * keep the last). One set per mapping keeps this linear; aliases are not
 * followed, so each written mapping is checked once.
 */
function duplicateKeys(doc: Document.Parsed, text: string): FieldError[] {
  const errors: FieldError[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        // Compared as strings, as toJS will key them (`1` and `"1"` collide there).
        const key = String(pair.key.value);
        if (seen.has(key) && errors.length < MAX_DUPLICATES_PER_DOCUMENT) {
          const offset = pair.key.range?.[0] ?? 0;
          errors.push({
            path: "",
            message: `line ${lineCol(text, offset)}: duplicate key ${JSON.stringify(key)}`,
          });
        }
        seen.add(key);
      }
    },
  });
  return errors;
}
