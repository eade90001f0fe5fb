import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type ParseLimits } from "./limits.js";
import { parseDocuments } from "./parse.js";

function errorsOf(result: ReturnType<typeof parseDocuments>) {
  if (result.ok) throw new Error(`expected errors, got ${result.documents.length} documents`);
  return result.errors;
}

function documentsOf(result: ReturnType<typeof parseDocuments>) {
  if (!result.ok) throw new Error(`expected documents, got ${JSON.stringify(result.errors)}`);
  return result.documents;
}

/** Nine levels of nine aliases each: 9^9 (387 million) leaves once expanded. */
function billionLaughs(): string {
  const names = "abcdefghi";
  let text = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (let level = 1; level < names.length; level++) {
    const previous = `*${names[level - 1]}`;
    text += `${names[level]}: &${names[level]} [${Array(9).fill(previous).join(",")}]\n`;
  }
  return text;
}

describe("parseDocuments (YAML)", () => {
  it("returns every non-empty document in order and skips empty ones", () => {
    const text = "---\n# only a comment\n---\nkind: A\n---\n---\nkind: B\n---\n~\n";
    expect(documentsOf(parseDocuments(text, "yaml"))).toEqual([{ kind: "A" }, { kind: "B" }]);
  });

  it("accepts an empty file as no documents", () => {
    expect(documentsOf(parseDocuments("", "yaml"))).toEqual([]);
  });

  it("keeps timestamps and yes/no as strings (YAML 1.2 core schema)", () => {
    expect(documentsOf(parseDocuments("t: 2024-01-01T00:00:00Z\nb: yes\n", "yaml"))).toEqual([
      { t: "2024-01-01T00:00:00Z", b: "yes" },
    ]);
  });

  it("stays on the YAML 1.2 core schema whatever the document's %YAML directive says", () => {
    const [doc] = documentsOf(parseDocuments("%YAML 1.1\n---\nt: 2001-12-14\nb: yes\n", "yaml"));
    expect(doc).toEqual({ t: "2001-12-14", b: "yes" });
  });

  it("does not apply merge keys", () => {
    const [doc] = documentsOf(parseDocuments("a: &a {x: 1}\nb:\n  <<: *a\n", "yaml"));
    expect(doc).toEqual({ a: { x: 1 }, b: { "<<": { x: 1 } } });
  });

  it("flattens a v1 List into its items", () => {
    const text = "apiVersion: v1\nkind: List\nitems:\n- kind: A\n- kind: B\n---\nkind: C\n";
    expect(documentsOf(parseDocuments(text, "yaml"))).toEqual([{ kind: "A" }, { kind: "B" }, { kind: "C" }]);
  });

  it("refuses a List whose items are not a list", () => {
    expect(errorsOf(parseDocuments("apiVersion: v1\nkind: List\nitems: 3\n", "yaml"))).toEqual([
      { path: "items", message: "must be a list of objects", document: 0 },
    ]);
  });

  it("refuses scalar and sequence documents, naming the document", () => {
    expect(errorsOf(parseDocuments("kind: A\n---\n- a\n- b\n---\nhello\n", "yaml"))).toEqual([
      { path: "", message: "document must be an object", document: 1 },
      { path: "", message: "document must be an object", document: 2 },
    ]);
  });

  it("reports a syntax error with its line and column", () => {
    const [error] = errorsOf(parseDocuments("kind: A\nspec:\n  a: [1, 2\nb: 3\n", "yaml"));
    expect(error?.path).toBe("");
    expect(error?.message).toMatch(/^line \d+:\d+: /);
  });

  it("refuses duplicate keys, naming the key and its position", () => {
    expect(errorsOf(parseDocuments("kind: A\nspec: {}\nkind: B\n", "yaml"))).toEqual([
      { path: "", message: 'line 3:1: duplicate key "kind"' },
    ]);
  });

  it("refuses text over maxBytes, counting UTF-8 bytes", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxBytes: 10 };
    // 5 characters, 10 bytes: fits exactly.
    expect(parseDocuments("a: ééé", "yaml", limits).ok).toBe(true);
    const [error] = errorsOf(parseDocuments("a: éééé", "yaml", limits));
    expect(error?.message).toBe("manifest is 11 bytes; the limit is 10 bytes (10 B)");
  });

  it("refuses a default-limits manifest over 1 MiB", () => {
    const text = `a: "${"x".repeat(1024 * 1024)}"`;
    expect(errorsOf(parseDocuments(text, "yaml"))[0]?.message).toContain("the limit is 1048576 bytes (1 MiB)");
  });

  it("refuses more than maxDocuments documents", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxDocuments: 3 };
    const docs = (n: number) => Array.from({ length: n }, (_, i) => `kind: K${i}`).join("\n---\n");
    expect(documentsOf(parseDocuments(docs(3), "yaml", limits))).toHaveLength(3);
    expect(errorsOf(parseDocuments(docs(4), "yaml", limits))).toEqual([
      { path: "", message: "manifest has more than 3 documents; the limit is 3" },
    ]);
  });

  it("bounds empty documents too, generously", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxDocuments: 2 };
    const helmLike = "---\n# Source: chart/templates/disabled.yaml\n".repeat(20);
    expect(documentsOf(parseDocuments(`${helmLike}---\nkind: A\n`, "yaml", limits))).toEqual([{ kind: "A" }]);
    expect(errorsOf(parseDocuments("---\n".repeat(30), "yaml", limits))).toEqual([
      { path: "", message: "manifest has more than 21 YAML documents, empty ones included; the limit is 21" },
    ]);
  });

  it("finds a duplicate key anywhere in a large mapping", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}: v`);
    const text = [...keys, "nested:", "  k1: a", "  k2: b", "k4999: again"].join("\n");
    expect(errorsOf(parseDocuments(text, "yaml"))).toEqual([
      { path: "", message: 'line 5004:1: duplicate key "k4999"' },
    ]);
  });

  it("reports duplicate keys in every document, quoted keys included", () => {
    const text = 'a: 1\n"a": 2\n---\nb: {x: 1, x: 2}\n';
    expect(errorsOf(parseDocuments(text, "yaml"))).toEqual([
      { path: "", message: 'line 2:1: duplicate key "a"' },
      { path: "", message: 'line 4:11: duplicate key "x"' },
    ]);
  });

  it("counts the items of a List against maxDocuments", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxDocuments: 2 };
    const text = "apiVersion: v1\nkind: List\nitems: [{a: 1}, {a: 2}, {a: 3}]\n";
    expect(errorsOf(parseDocuments(text, "yaml", limits))[0]?.message).toContain("more than 2 documents");
  });

  it("refuses an alias bomb with an alias error instead of expanding it", () => {
    const errors = errorsOf(parseDocuments(billionLaughs(), "yaml"));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe("");
    expect(errors[0]?.message).toMatch(/aliases/);
  });

  it("refuses aliases whose copies would outgrow the manifest", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxBytes: 4000 };
    const list = `a: &a [${Array(50).fill("abcdefghij").join(",")}]\nb: [${Array(90).fill("*a").join(",")}]\n`;
    const scalar = `a: &a "${"x".repeat(1000)}"\nb: [${Array(90).fill("*a").join(",")}]\n`;
    for (const text of [list, scalar]) {
      expect(text.length).toBeLessThan(4000);
      expect(errorsOf(parseDocuments(text, "yaml", limits))).toEqual([
        { path: "", message: "YAML aliases expand the manifest beyond 7.81 KiB; refusing to expand them" },
      ]);
    }
  });

  it("bounds alias expansion across all documents of a manifest together", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxBytes: 4000 };
    const doc = `a: &a "${"x".repeat(300)}"\nb: [${Array(10).fill("*a").join(",")}]\n`;
    expect(parseDocuments(doc, "yaml", limits).ok).toBe(true);
    const text = Array(4).fill(doc).join("---\n");
    expect(text.length).toBeLessThan(4000);
    expect(errorsOf(parseDocuments(text, "yaml", limits))[0]?.message).toMatch(/aliases expand/);
  });

  it("accepts a few ordinary aliases", () => {
    const [doc] = documentsOf(parseDocuments("a: &x {k: v}\nb: *x\n", "yaml"));
    expect(doc).toEqual({ a: { k: "v" }, b: { k: "v" } });
  });

  it("refuses a self-referencing alias as too deep", () => {
    expect(errorsOf(parseDocuments("a: &a [*a]\n", "yaml"))[0]?.message).toMatch(/maximum depth of 64/);
  });

  it("refuses nesting deeper than maxDepth, in flow and block style", () => {
    const limits: ParseLimits = { ...DEFAULT_LIMITS, maxDepth: 5 };
    expect(parseDocuments("a: [[[1]]]\n", "yaml", limits).ok).toBe(true);
    expect(errorsOf(parseDocuments("a: [[[[[1]]]]]\n", "yaml", limits))[0]?.message).toBe(
      "document nesting exceeds the maximum depth of 5",
    );
    const block = ["a:", "  b:", "    c:", "      d:", "        e:", "          f: 1"].join("\n");
    expect(errorsOf(parseDocuments(block, "yaml", limits))[0]?.message).toContain("maximum depth");
  });

  it("refuses pathological nesting without exhausting the stack", () => {
    const text = "[".repeat(500_000) + "]".repeat(500_000);
    expect(errorsOf(parseDocuments(text, "yaml"))[0]?.message).toContain("maximum depth of 64");
    const sequence = `${"- ".repeat(400_000)}x\n`;
    expect(errorsOf(parseDocuments(sequence, "yaml"))[0]?.message).toContain("maximum depth of 64");
  });
});

describe("parseDocuments (JSON)", () => {
  it("reads a single object", () => {
    expect(documentsOf(parseDocuments('{"kind": "Service"}', "json"))).toEqual([{ kind: "Service" }]);
  });

  it("reads an array of objects", () => {
    expect(documentsOf(parseDocuments('[{"kind": "A"}, {"kind": "B"}]', "json"))).toEqual([
      { kind: "A" },
      { kind: "B" },
    ]);
  });

  it("flattens a List", () => {
    const text = JSON.stringify({ apiVersion: "v1", kind: "List", items: [{ kind: "A" }, { kind: "B" }] });
    expect(documentsOf(parseDocuments(text, "json"))).toEqual([{ kind: "A" }, { kind: "B" }]);
  });

  it("refuses array elements that are not objects, naming them", () => {
    expect(errorsOf(parseDocuments('[{"kind": "A"}, 3, null]', "json"))).toEqual([
      { path: "", message: "document must be an object", document: 1 },
      { path: "", message: "document must be an object", document: 2 },
    ]);
  });

  it("reports a syntax error with its position when the engine gives one", () => {
    const [error] = errorsOf(parseDocuments('{\n  "a": 1,\n}', "json"));
    expect(error?.message).toMatch(/^invalid JSON at line 3:1: /);
  });

  it("does not echo the input back in a syntax error", () => {
    const secret = "s3cr3t-token-value";
    const [error] = errorsOf(parseDocuments(`{"a": "${secret}" }}`, "json"));
    expect(error?.message).toMatch(/^invalid JSON/);
    expect(error?.message).not.toContain(secret);
  });

  it("refuses YAML sent as JSON", () => {
    expect(errorsOf(parseDocuments("kind: Service\n", "json"))[0]?.message).toMatch(/^invalid JSON/);
  });

  it("refuses duplicate keys, which JSON.parse would silently resolve", () => {
    expect(errorsOf(parseDocuments('{"kind": "A",\n "kind": "B"}', "json"))).toEqual([
      { path: "", message: 'line 2:2: duplicate key "kind"' },
    ]);
    // Keys are compared decoded, per object; equal strings as values or in other objects are fine.
    const text = '[{"a": "a", "b": {"a": ["a", {"a": 1}]}}, {"a\\u0062": 1, "ab": 2}]';
    expect(errorsOf(parseDocuments(text, "json"))).toEqual([{ path: "", message: 'line 1:58: duplicate key "ab"' }]);
  });

  it("refuses deep nesting", () => {
    const text = `{"a": ${"[".repeat(100)}${"]".repeat(100)}}`;
    expect(errorsOf(parseDocuments(text, "json"))[0]?.message).toContain("maximum depth of 64");
  });

  it("keeps __proto__ as a plain field rather than a prototype", () => {
    const [doc] = documentsOf(parseDocuments('{"__proto__": {"polluted": true}}', "json"));
    expect(Object.keys(doc as object)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
