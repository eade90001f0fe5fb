/**
 * Field errors in the shape tenants read: a Kubernetes-style path
 * (`spec.template.spec.containers[0].image`) and a short human message.
 * Zod issues are translated here, so no zod wording reaches a tenant.
 */
import type { z } from "zod";

export interface FieldError {
  path: string;
  message: string;
  /** 0-based index of the document in the file, when the error belongs to one. */
  document?: number;
  /** `forbidden`: the value is well-formed but a policy refuses it (runtime isolation), not a typo. */
  reason?: "forbidden";
}

// Keys that read naturally after a dot; anything else (label keys such as
// `app.kubernetes.io/name`, resource names such as `nvidia.com/gpu`) is quoted
// in brackets so the path stays unambiguous.
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

export function withDocument(errors: FieldError[], document: number | undefined): FieldError[] {
  if (document === undefined) return errors;
  return errors.map((error) => ({ ...error, document }));
}

const EXPECTED: Record<string, string> = {
  string: "must be a string",
  number: "must be a number",
  int: "must be an integer",
  boolean: "must be a boolean (true or false)",
  object: "must be an object",
  record: "must be an object",
  array: "must be a list",
};

function sizeWord(origin: string, count: number | bigint): string {
  if (origin === "string") return `${count} characters`;
  return `${count} items`;
}

function tooSmall(issue: { origin: string; minimum: number | bigint; inclusive?: boolean }): string {
  if (issue.origin === "number" || issue.origin === "int") {
    return issue.inclusive === false
      ? `must be greater than ${issue.minimum}`
      : `must be greater than or equal to ${issue.minimum}`;
  }
  if (Number(issue.minimum) === 1) return "must not be empty";
  return `must have at least ${sizeWord(issue.origin, issue.minimum)}`;
}

function tooBig(issue: { origin: string; maximum: number | bigint; inclusive?: boolean }): string {
  if (issue.origin === "number" || issue.origin === "int") {
    return issue.inclusive === false
      ? `must be less than ${issue.maximum}`
      : `must be less than or equal to ${issue.maximum}`;
  }
  return `must have at most ${sizeWord(issue.origin, issue.maximum)}`;
}

/** Passed to every `safeParse`; schema-level messages (regex, custom checks) take precedence over it. */
export const humanErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "required";
      return EXPECTED[issue.expected] ?? `must be of type ${issue.expected}`;
    case "too_small":
      return tooSmall(issue);
    case "too_big":
      return tooBig(issue);
    case "invalid_value":
      if (issue.input === undefined) return "required";
      return `unsupported value ${JSON.stringify(issue.input)}; supported values: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "unrecognized_keys":
      return "unknown field";
    default:
      return "is invalid";
  }
};

/**
 * One FieldError per issue. Zod reports all unknown keys of an object as one
 * issue on the object; tenants want one error per offending field, at its path.
 */
export function issuesToFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        errors.push({ path: formatPath([...issue.path, key]), message: `unknown field ${JSON.stringify(key)}` });
      }
    } else {
      errors.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return errors;
}
