/** The reserved tenant of the platform operator: its workloads (DaemonSets), and the volumes behind every claim. */
export const SYSTEM_TENANT = "system";
