/**
 * Chance enters the platform only through an `Rng`. The generator is sfc32
 * (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit state, from PractRand):
 * fast, well distributed, and trivially seedable. Seeds are strings or numbers,
 * hashed into the state with xmur3-style mixing, and `fork(purpose)` derives an
 * independent stream so that adding draws for one purpose never shifts another's.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** An independent generator for one purpose, derived from this one's seed. */
  fork(purpose: string): Rng;
}

/** Mixes a string into a 32-bit hash (xmur3 step function). */
function seedHash(text: string): () => number {
  let h = 1779033703 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    h ^= h >>> 16;
    return h >>> 0;
  };
}

export class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(private readonly seed: string | number) {
    const hash = seedHash(String(seed));
    this.a = hash();
    this.b = hash();
    this.c = hash();
    this.d = 1;
    // Discard the first outputs: the state needs a few rounds to mix.
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  fork(purpose: string): Rng {
    return new Sfc32(`${this.seed}/${purpose}`);
  }
}

export function seededRng(seed: string | number): Rng {
  return new Sfc32(seed);
}

/**
 * An unpredictable seed for production processes. This is the one place a process
 * draws entropy for the seeded generators; secrets use node:crypto instead.
 */
export function randomSeed(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
