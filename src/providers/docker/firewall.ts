import { execFile } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The host firewall that keeps tenants' containers away from the host they run on.
 *
 * A container on a tenant network reaches the host through its bridge: the gateway address, or any
 * other address of the host, lands in the host's INPUT chain, where the API, Postgres, Redis and
 * every other service listening on 0.0.0.0 would answer. One chain of ours, jumped to first from
 * INPUT, refuses every new connection that arrives on a tenant bridge (`kn` and 12 hex digits, see
 * `tenantBridgeName`), matched by the interface wildcard `kn+`, so networks created later are
 * covered without new rules. Bridges named `kn-…` (the test nodes' own default bridges) are left
 * alone: no pod runs on them. What must keep working does:
 * - replies to connections the host opened (docker-proxy relaying a published port, probes) are
 *   ESTABLISHED and pass;
 * - pods of one tenant talk to each other across their bridge, which is FORWARD, not INPUT;
 * - Docker's embedded DNS answers at 127.0.0.11 inside the container's own namespace.
 *
 * Both families are covered (tenant networks are IPv4, but a container still has an IPv6
 * link-local address and the bridge one, and a service listening on `::` would answer there).
 *
 * The backend is the one Docker 20.10 itself uses: the `iptables` on PATH (Debian's alternatives
 * pick iptables-nft or iptables-legacy), so our rules sit in the same tables as Docker's.
 * Applying is idempotent and atomic: the chain's rules are written in one `iptables-restore
 * --noflush` transaction, and only when they differ from what is there.
 */
export const FIREWALL_CHAIN = "KUBERNEASE-INPUT";

/** Every tenant bridge (`kn` + hex); `kn-…` bridges are excepted by the rule before it. */
export const TENANT_BRIDGES = "kn+";

export type Family = "ipv4" | "ipv6";

/** Runs one command with arguments and optional stdin; resolves its stdout, rejects when it fails. */
export type CommandRunner = (command: string, args: string[], input?: string) => Promise<string>;

export interface FirewallOptions {
  /** The families to cover; IPv4, and IPv6 unless the kernel has it off, when absent. */
  families?: Family[];
  /** The iptables binaries; `iptables` and `ip6tables` on PATH when absent (as Docker uses them). */
  iptables?: string;
  ip6tables?: string;
  /** How commands run; `execFile` with a 10 s timeout when absent (tests inject their own). */
  run?: CommandRunner;
}

/** What `applyHostFirewall` did, per family. */
export interface FirewallResult {
  family: Family;
  /** The chain's rules were (re)written. */
  rulesWritten: boolean;
  /** The jump from INPUT was added. */
  jumpAdded: boolean;
}

/** The chain's rules, in `iptables -S` form: what is there is compared with this. Pure. */
export function firewallRules(family: Family): string[] {
  const reject = family === "ipv4" ? "icmp-admin-prohibited" : "icmp6-adm-prohibited";
  return [
    `-A ${FIREWALL_CHAIN} -i kn-+ -j RETURN`,
    `-A ${FIREWALL_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${FIREWALL_CHAIN} -i ${TENANT_BRIDGES} -j REJECT --reject-with ${reject}`,
  ];
}

/** The `iptables-restore --noflush` input that (re)writes the chain: declaring it flushes it, in one commit. */
export function restoreInput(family: Family): string {
  return ["*filter", `:${FIREWALL_CHAIN} - [0:0]`, ...firewallRules(family), "COMMIT", ""].join("\n");
}

const JUMP = ["INPUT", "-j", FIREWALL_CHAIN];

/** Makes the host firewall what `firewallRules` says, for each family; changes nothing when it is already. */
export async function applyHostFirewall(options: FirewallOptions = {}): Promise<FirewallResult[]> {
  const run = options.run ?? execRunner;
  const results: FirewallResult[] = [];
  for (const family of options.families ?? defaultFamilies()) {
    const binary = binaryOf(family, options);
    const current = await run(binary, ["-w", "5", "-S", FIREWALL_CHAIN]).then(ruleLines, () => undefined);
    const rulesWritten = current === undefined || current.join("\n") !== firewallRules(family).join("\n");
    if (rulesWritten) await run(`${binary}-restore`, ["-w", "5", "--noflush"], restoreInput(family));
    const jumped = await run(binary, ["-w", "5", "-C", ...JUMP]).then(
      () => true,
      () => false,
    );
    // First in INPUT: an ACCEPT that another tool put there must not open the host to tenants.
    if (!jumped) await run(binary, ["-w", "5", "-I", "INPUT", "1", "-j", FIREWALL_CHAIN]);
    results.push({ family, rulesWritten, jumpAdded: !jumped });
  }
  return results;
}

/** Removes the jump and the chain (an operator turning the platform off, or a test proving the rule matters). */
export async function removeHostFirewall(options: FirewallOptions = {}): Promise<void> {
  const run = options.run ?? execRunner;
  for (const family of options.families ?? defaultFamilies()) {
    const binary = binaryOf(family, options);
    // Bounded: one jump is all `applyHostFirewall` adds, a few more would be another tool's doing.
    for (let i = 0; i < 16; i++) {
      const removed = await run(binary, ["-w", "5", "-D", ...JUMP]).then(
        () => true,
        () => false,
      );
      if (!removed) break;
    }
    await run(binary, ["-w", "5", "-F", FIREWALL_CHAIN]).catch(() => "");
    await run(binary, ["-w", "5", "-X", FIREWALL_CHAIN]).catch(() => "");
  }
}

/** IPv6 too when the kernel has it (a kernel without it has no ip6tables to ask, and nothing to guard). */
function defaultFamilies(): Family[] {
  return existsSync("/proc/net/if_inet6") ? ["ipv4", "ipv6"] : ["ipv4"];
}

function binaryOf(family: Family, options: FirewallOptions): string {
  return family === "ipv4" ? (options.iptables ?? "iptables") : (options.ip6tables ?? "ip6tables");
}

/** The `-A` lines of `iptables -S CHAIN` (it prints `-N CHAIN` first, and warnings go to stderr). */
function ruleLines(output: string): string[] {
  return output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("-A "));
}

const execRunner: CommandRunner = (command, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 10_000, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
