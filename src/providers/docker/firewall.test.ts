import { describe, expect, it } from "vitest";
import {
  applyHostFirewall,
  type CommandRunner,
  FIREWALL_CHAIN,
  firewallRules,
  removeHostFirewall,
  restoreInput,
} from "./firewall.js";

/** A fake iptables: one chain's rules and INPUT's jumps, per binary, and every command it was given. */
function fakeIptables(initial: { rules?: string[]; jumps?: number } = {}) {
  const calls: string[] = [];
  const state = new Map<string, { rules?: string[]; jumps: number }>();
  const of = (binary: string) => {
    const family = binary.replace(/-restore$/, "");
    let s = state.get(family);
    if (!s) {
      s = { ...(initial.rules ? { rules: [...initial.rules] } : {}), jumps: initial.jumps ?? 0 };
      state.set(family, s);
    }
    return s;
  };
  const run: CommandRunner = async (binary, args, input) => {
    calls.push([binary, ...args].join(" "));
    const s = of(binary);
    const jump = args.includes("INPUT") && args.includes(FIREWALL_CHAIN);
    if (binary.endsWith("-restore")) {
      s.rules = (input ?? "").split("\n").filter((l) => l.startsWith("-A "));
    } else if (args.includes("-S")) {
      if (!s.rules) throw new Error("No chain/target/match by that name");
      return [`-N ${FIREWALL_CHAIN}`, ...s.rules, ""].join("\n");
    } else if (args.includes("-C") && jump) {
      if (s.jumps === 0) throw new Error("Bad rule");
    } else if (args.includes("-I") && jump) {
      s.jumps++;
    } else if (args.includes("-D") && jump) {
      if (s.jumps === 0) throw new Error("Bad rule");
      s.jumps--;
    } else if (args.includes("-X")) {
      s.rules = undefined;
    }
    return "";
  };
  return { run, calls, state: (binary: string) => of(binary) };
}

describe("the host firewall", () => {
  it("refuses new connections from tenant bridges (kn + hex), not from kn-… bridges, and lets replies in", () => {
    expect(firewallRules("ipv4")).toEqual([
      `-A ${FIREWALL_CHAIN} -i kn-+ -j RETURN`,
      `-A ${FIREWALL_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-A ${FIREWALL_CHAIN} -i kn+ -j REJECT --reject-with icmp-admin-prohibited`,
    ]);
    expect(firewallRules("ipv6").at(-1)).toBe(
      `-A ${FIREWALL_CHAIN} -i kn+ -j REJECT --reject-with icmp6-adm-prohibited`,
    );
    // One transaction that declares (so flushes) the chain and writes its rules.
    expect(restoreInput("ipv4").split("\n")).toEqual([
      "*filter",
      `:${FIREWALL_CHAIN} - [0:0]`,
      ...firewallRules("ipv4"),
      "COMMIT",
      "",
    ]);
  });

  it("writes the chain and the jump (first in INPUT) where they are missing, for both families", async () => {
    const fake = fakeIptables();
    const results = await applyHostFirewall({ run: fake.run, families: ["ipv4", "ipv6"] });
    expect(results).toEqual([
      { family: "ipv4", rulesWritten: true, jumpAdded: true },
      { family: "ipv6", rulesWritten: true, jumpAdded: true },
    ]);
    expect(fake.calls).toContain(`iptables -w 5 -I INPUT 1 -j ${FIREWALL_CHAIN}`);
    expect(fake.calls).toContain("ip6tables-restore -w 5 --noflush");
    expect(fake.state("iptables").rules).toEqual(firewallRules("ipv4"));
    expect(fake.state("ip6tables").rules).toEqual(firewallRules("ipv6"));
  });

  it("changes nothing when applied again, and rewrites only the chain when its rules drifted", async () => {
    const fake = fakeIptables();
    await applyHostFirewall({ run: fake.run, families: ["ipv4", "ipv6"] });
    const again = await applyHostFirewall({ run: fake.run, families: ["ipv4", "ipv6"] });
    expect(again.every((r) => !r.rulesWritten && !r.jumpAdded)).toBe(true);
    expect(fake.state("iptables").jumps).toBe(1);

    const drifted = fakeIptables({ rules: [`-A ${FIREWALL_CHAIN} -j ACCEPT`], jumps: 1 });
    const fixed = await applyHostFirewall({ run: drifted.run, families: ["ipv4"] });
    expect(fixed).toEqual([{ family: "ipv4", rulesWritten: true, jumpAdded: false }]);
    expect(drifted.state("iptables").rules).toEqual(firewallRules("ipv4"));
    expect(drifted.state("iptables").jumps).toBe(1);
  });

  it("is removed, jump and chain, and a failing iptables is an error that names the command", async () => {
    const fake = fakeIptables();
    await applyHostFirewall({ run: fake.run, families: ["ipv4", "ipv6"] });
    await removeHostFirewall({ run: fake.run, families: ["ipv4", "ipv6"] });
    expect(fake.state("iptables")).toEqual({ jumps: 0, rules: undefined });

    const broken: CommandRunner = async (binary, args) => {
      if (binary.endsWith("-restore"))
        throw new Error(`${binary} ${args.join(" ")}: Permission denied (you must be root)`);
      throw new Error("No chain/target/match by that name");
    };
    await expect(applyHostFirewall({ run: broken, families: ["ipv4"] })).rejects.toThrow(
      /iptables-restore .*Permission denied/,
    );
  });
});
