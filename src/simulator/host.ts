/**
 * The simulator's one touch of the real event loop. Everything the platform does
 * in a run is promise work (the in-memory store, the in-process queue, the
 * simulated provider) driven by a `ManualClock`, so after one turn of the host's
 * event loop every continuation that could run has run. Waiting for that turn is
 * a process-edge concern, like the real `Clock`: it decides nothing, moves no
 * virtual time and draws no chance, so it cannot make two runs differ.
 */
export function yieldToHost(): Promise<void> {
  // biome-ignore lint/plugin: the one sanctioned real-timer use in src/simulator (see above): a turn of the host loop, never a delay.
  return new Promise((resolve) => setImmediate(resolve));
}
