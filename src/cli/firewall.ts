import { applyHostFirewall, FIREWALL_CHAIN, firewallRules } from "../providers/docker/firewall.js";
import { NODE_USAGE } from "./usage.js";

/**
 * `kubernease node firewall`: applies the host firewall on the machine it runs on. The Docker
 * provider applies it itself for Engines on its own machine; a remote Engine's host runs this once
 * at boot (the rules do not survive a reboot), before its first pod.
 */
export async function node(args: string[]): Promise<string> {
  if (args[0] !== "firewall" || args.length !== 1) {
    throw new Error(`unknown node command "${args.join(" ")}"; usage: ${NODE_USAGE}`);
  }
  const results = await applyHostFirewall();
  const lines = results.map(
    (r) =>
      `${r.family}: chain ${FIREWALL_CHAIN} ${r.rulesWritten ? "written" : "already in place"}, ` +
      `jump from INPUT ${r.jumpAdded ? "added" : "already in place"}`,
  );
  return [...lines, "rules (ipv4):", ...firewallRules("ipv4").map((rule) => `  ${rule}`)].join("\n");
}
