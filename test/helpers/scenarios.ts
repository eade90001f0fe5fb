/** Where the example scenarios live, and those a newcomer can run, each of which passes. */
export const SCENARIO_DIR = new URL("../../examples/scenarios/", import.meta.url).pathname;

export const PASSING_SCENARIOS = [
  "node-loss-mid-rollout",
  "zone-outage",
  "crashloop-rollback",
  "statefulset-failover",
  "capacity-autoscaling",
  "swarm",
];
