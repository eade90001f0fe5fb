import { expect, it } from "vitest";
import { node } from "./firewall.js";

it("kubernease node: refuses anything but `firewall`, naming the usage", async () => {
  await expect(node([])).rejects.toThrow(/usage: kubernease node firewall/);
  await expect(node(["firewall", "extra"])).rejects.toThrow(/unknown node command "firewall extra"/);
});
