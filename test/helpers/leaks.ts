import { expect } from "vitest";

/**
 * The tenancy recorder: every tenant response the suite sees is scanned for what
 * tenants must never learn — node names, node addresses and node counts — and the
 * test that received it fails on the spot.
 */
export const NODE_COUNT_PATTERNS = [
  /\b\d+\s*\/\s*\d+\s+nodes?\b/i,
  /\b\d+\s+(?:\w+\s+)?nodes?\b/i,
  /\bnodes?\s*(?:count)?\s*[:=]\s*\d+/i,
  /"nodeName"/,
  /"hostIP"/,
];

export interface KnownNode {
  name: string;
  address: string;
}

export const recorder = { scanned: 0 };

/** The leaks in one response text, or [] when it is clean. */
export function findLeaks(text: string, nodes: KnownNode[]): string[] {
  const leaks: string[] = [];
  for (const node of nodes) {
    if (text.includes(node.name)) leaks.push(`node name ${node.name}`);
    if (new RegExp(`(^|[^\\d.])${node.address.replaceAll(".", "\\.")}(?![\\d])`).test(text)) {
      leaks.push(`node address ${node.address}`);
    }
  }
  for (const pattern of NODE_COUNT_PATTERNS) {
    const match = pattern.exec(text);
    if (match) leaks.push(`node count or placement "${match[0]}"`);
  }
  return leaks;
}

export function assertNoNodeLeak(what: string, text: string, nodes: KnownNode[]): void {
  recorder.scanned++;
  expect(findLeaks(text, nodes), `tenant response ${what} leaks node details`).toEqual([]);
}
