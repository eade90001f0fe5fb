/**
 * Kubernetes resource quantities (`500m`, `0.5`, `4Gi`, `129e6`), parsed into the
 * integer units the platform computes with: CPU in millicores, memory in bytes.
 * Fractions round up, as Kubernetes rounds requests up.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;

/** The quantity as a plain number of base units, or `undefined` when it is not a quantity. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  const match = QUANTITY.exec(value.trim());
  if (!match) return undefined;
  const [, digits = "", exponent, suffix = ""] = match;
  const base = Number(digits);
  if (exponent) return base * 10 ** Number(exponent.slice(1));
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

export function isQuantity(value: string | number): boolean {
  const n = parseQuantity(value);
  return n !== undefined && n >= 0;
}

export function cpuMillis(value: string | number | undefined): number {
  if (value === undefined) return 0;
  return Math.ceil((parseQuantity(value) ?? 0) * 1000 - 1e-9);
}

export function memoryBytes(value: string | number | undefined): number {
  if (value === undefined) return 0;
  return Math.ceil((parseQuantity(value) ?? 0) - 1e-9);
}

/** `1500` → `1.5 CPU`, `250` → `250m CPU`. */
export function formatCpu(millis: number): string {
  if (millis % 1000 === 0) return `${millis / 1000} CPU`;
  if (millis > 1000) return `${Number((millis / 1000).toFixed(2))} CPU`;
  return `${millis}m CPU`;
}

/** Bytes in the largest binary unit that keeps a readable number: `3.5 GiB`, `100 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(2))} ${units[unit]}`;
}
