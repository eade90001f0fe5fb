import { describe, expect, it } from "vitest";
import { shareOwner } from "./protocol.js";

const nodes = Array.from({ length: 3_000 }, (_, i) => `sim-default-${i}`);
const ownersOf = (ids: number[]) => new Map(nodes.map((n) => [n, shareOwner(n, ids)]));

describe("shareOwner (which sharing stream hears a node's pod events)", () => {
  it("is no stream when none shares, and the one stream when one does", () => {
    expect(shareOwner("n1", [])).toBeUndefined();
    expect(shareOwner("n1", [7])).toBe(7);
  });

  it("spreads the nodes about evenly, whatever the order the ids are listed in", () => {
    const owners = ownersOf([1, 2, 3, 4]);
    for (const id of [1, 2, 3, 4]) {
      const share = [...owners.values()].filter((o) => o === id).length;
      expect(share).toBeGreaterThan(600);
      expect(share).toBeLessThan(900);
    }
    expect(ownersOf([4, 2, 3, 1])).toEqual(owners);
  });

  it("moves to a stream that joins only nodes it takes, and from one that leaves only its own", () => {
    const before = ownersOf([1, 2, 3]);
    const joined = ownersOf([1, 2, 3, 4]);
    const moved = nodes.filter((n) => joined.get(n) !== before.get(n));
    expect(moved.every((n) => joined.get(n) === 4)).toBe(true);
    // About a quarter of the nodes: a modulo of the count would have moved about three quarters.
    expect(moved.length).toBeGreaterThan(600);
    expect(moved.length).toBeLessThan(900);
    const left = ownersOf([1, 3]);
    for (const n of nodes) if (before.get(n) !== 2) expect(left.get(n)).toBe(before.get(n));
  });
});
