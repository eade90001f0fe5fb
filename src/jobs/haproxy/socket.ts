/**
 * HAProxy's command sockets: the admin (stats) socket of the worker and the master CLI.
 * One connection per call, in non-interactive mode: the commands are sent, HAProxy
 * answers and closes. Every call is bounded by a timeout on the injected Clock.
 */
import { connect } from "node:net";
import type { Clock } from "../../core/clock.js";

/** Sends `commands` (joined with `;`, as HAProxy reads them) and resolves with the whole answer. */
export function socketCommand(
  path: string,
  commands: readonly string[],
  clock: Clock,
  timeoutMs = 5_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(path);
    const cancel = clock.setTimer(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`haproxy socket ${path}: no answer to "${commands[0] ?? ""}" within ${timeoutMs} ms`));
    });
    // Half-closed after the commands: the master CLI answers, then waits for the client to finish.
    socket.on("connect", () => socket.end(`${commands.join(";")}\n`));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", (error) => {
      cancel();
      reject(error);
    });
    socket.on("close", () => {
      cancel();
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}
