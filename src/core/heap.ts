/**
 * A binary min-heap under a strict `before` order: push and pop are O(log n), so a million pending
 * entries (timers, probes) cost no walk over all of them.
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(entry: T): void {
    const items = this.items;
    let i = items.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.before(entry, items[parent] as T)) break;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    // Bounded by the heap's depth: each pass moves one level down.
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && this.before(items[right] as T, items[left] as T) ? right : left;
      if (!this.before(items[child] as T, last)) break;
      items[i] = items[child] as T;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Starts afresh with `entries`. */
  rebuild(entries: readonly T[]): void {
    this.items = [];
    for (const entry of entries) this.push(entry);
  }

  /** The entries, in no particular order. */
  entries(): readonly T[] {
    return this.items;
  }
}
