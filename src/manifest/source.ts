/** Positions in manifest text, for error messages that point at what to fix. */

/** 1-based `line:column` of a character offset. */
export function lineCol(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `${line}:${offset - lineStart + 1}`;
}

const QUOTED = /^("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')/;
const PLAIN = /^[^\n]*?(?=:(?:\s|$))/;

/**
 * The mapping key written at `offset` (the parser reports a duplicate key by
 * its position only): a quoted key without its quotes, or a plain key up to its colon.
 */
export function keyAt(text: string, offset: number): string {
  const rest = text.slice(offset, offset + 256);
  const quoted = QUOTED.exec(rest)?.[0];
  if (quoted) return quoted.slice(1, -1);
  return (PLAIN.exec(rest)?.[0] ?? rest.split("\n")[0] ?? "").trim();
}
