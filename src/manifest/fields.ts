/**
 * Field types shared by every kind: Kubernetes' integers, int-or-string values,
 * quantities and the "exactly one of" rule its union-like structs follow.
 */
import { z } from "zod";
import { isQuantity, parseQuantity } from "../core/quantity.js";
import { isPortName } from "./names.js";

const INT32_MAX = 2_147_483_647;

/**
 * An integer whose type error reads "must be an integer" whatever was sent ("3",
 * 1.5). Returning undefined for other issues leaves range errors to the common map.
 */
export const integer = () =>
  z.int({
    error: (issue) => {
      if (issue.code !== "invalid_type") return undefined;
      return issue.input === undefined ? "required" : "must be an integer";
    },
  });

/** Kubernetes int32 fields reject fractions and strings, so do we. */
export const int32 = (min = -INT32_MAX - 1, max = INT32_MAX) => integer().min(min).max(max);

/** Kubernetes int64 fields (user and group ids, seconds); JavaScript keeps them exact up to 2^53. */
export const int64 = (min = Number.MIN_SAFE_INTEGER) => integer().min(min);

export const portNumber = () => integer().min(1).max(65535);

/** A port given by number or by the name of a container port (`http`). */
export const portOrName = () =>
  z.union([z.int(), z.string()], { error: "must be a port number or a port name" }).superRefine((value, ctx) => {
    if (typeof value === "number" && (value < 1 || value > 65535)) {
      ctx.addIssue({ code: "custom", message: "must be between 1 and 65535" });
    }
    if (typeof value === "string" && !isPortName(value)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} is not a valid port name` });
    }
  });

const PERCENT = /^[0-9]+%$/;

const INT_OR_PERCENT_MESSAGE = 'must be a non-negative integer or a percentage such as "25%"';

/** `maxSurge`/`maxUnavailable`: a non-negative count or a percentage such as `25%`. */
export const intOrPercent = () =>
  z
    // Each member carries the message too: a union reports a member's own issue when only its checks failed.
    .union([z.int().min(0, INT_OR_PERCENT_MESSAGE), z.string().regex(PERCENT, INT_OR_PERCENT_MESSAGE)], {
      error: INT_OR_PERCENT_MESSAGE,
    })
    .superRefine((value, ctx) => {
      if (typeof value === "string" && Number.parseInt(value, 10) > 100) {
        ctx.addIssue({ code: "custom", message: "must not be more than 100%" });
      }
    });

const QUANTITY_MESSAGE = 'must be a valid quantity such as "500m", "2", "1.5Gi" or "128M"';

/** Finite as well: "1e400" has quantity syntax but no amount a scheduler could add up. */
function isFiniteQuantity(value: string | number): boolean {
  return isQuantity(value) && Number.isFinite(parseQuantity(value));
}

export const quantity = () =>
  z
    .union([z.string(), z.number()], { error: (issue) => (issue.input === undefined ? "required" : QUANTITY_MESSAGE) })
    .refine(isFiniteQuantity, QUANTITY_MESSAGE);

/**
 * The largest amounts a pod may ask for: CPU in millicores as the scheduler counts it (an int32, as in
 * Kubernetes' accounting, about 2.1 million cores), anything else (bytes, counts) up to 2^53, the
 * largest whole number a JSON number holds exactly.
 */
const MAX_CPU_MILLIS = 2_147_483_647;
const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

/** `requests`, `limits`, `overhead`: resource name → quantity. */
export const resourceList = () =>
  z.record(z.string(), quantity()).superRefine((list, ctx) => {
    for (const [name, value] of Object.entries(list)) {
      const amount = parseQuantity(value) ?? 0;
      const tooMuch = name === "cpu" ? amount * 1000 > MAX_CPU_MILLIS : amount > MAX_AMOUNT;
      if (!tooMuch) continue;
      const most = name === "cpu" ? `${MAX_CPU_MILLIS}m` : String(MAX_AMOUNT);
      ctx.addIssue({ code: "custom", path: [name], message: `must be at most ${most}` });
    }
  });

export const stringList = () => z.array(z.string());

/**
 * A string-keyed map in which no key can vanish: zod's record drops a
 * "__proto__" key without a word, and a tenant's data must never silently
 * lose an entry, so that key is refused at its path instead.
 */
export const keyedMap = <V extends z.ZodType>(value: V) =>
  z
    .unknown()
    .superRefine((input, ctx) => {
      if (typeof input === "object" && input !== null && Object.hasOwn(input, "__proto__")) {
        ctx.addIssue({
          code: "custom",
          path: ["__proto__"],
          message: 'key "__proto__" is not supported',
          continue: false,
        });
      }
    })
    .pipe(z.record(z.string(), value));

/** Keys of `value` among `keys` that are set; used by the "exactly one of" checks. */
export function presentKeys(value: object, keys: readonly string[]): string[] {
  const record = value as Record<string, unknown>;
  return keys.filter((key) => record[key] !== undefined);
}

/**
 * Kubernetes structs such as a volume source or a probe handler take exactly one
 * member; this check names the members so a tenant knows what to choose.
 */
export function exactlyOne(keys: readonly string[], what: string) {
  return <T extends object>(value: T, ctx: z.core.$RefinementCtx<T>) => {
    const present = presentKeys(value, keys);
    if (present.length === 1) return;
    const message =
      present.length === 0
        ? `must specify one ${what}: ${keys.join(", ")}`
        : `must specify only one ${what}; found ${present.join(", ")}`;
    ctx.addIssue({ code: "custom", message });
  };
}
