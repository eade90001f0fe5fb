/**
 * The usage lines of the commands whose modules are heavy (they start servers, nodes, simulations):
 * here, so that `kubernease --help` and the client commands load none of those modules.
 */
export const NODES_USAGE =
  "kubernease nodes --simulated [--listen 127.0.0.1:7070] [--nodes 3 --node-cpu 4 --node-memory 8Gi] [--seed S]\n" +
  "                   [--autoscale-max N] [--token T | env KUBERNEASE_NODES_TOKEN]   (workers: --nodes-url URL)";

export const NODE_USAGE = "kubernease node firewall   (as root on a Docker host: keep pods away from its ports)";

export const LOGS_USAGE = "kubernease logs [-f] [-p] [-c CONTAINER] [--tail N] POD [-n NAMESPACE]";

export const SIMULATE_USAGE =
  "kubernease simulate FILE [--seed N | --seeds A..B] [--faults 1,3] [--report out.html] [--json]";
