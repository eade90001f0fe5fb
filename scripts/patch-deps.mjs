#!/usr/bin/env node
// Mends, in node_modules, a dependency bug we cannot wait out. Runs after `npm ci`/`npm install`
// (`postinstall`) and again before `npm test`; each mend is applied once, and a file that no longer
// holds the code it mends (a fixed release) is left alone with a warning.
//
// postgres.js 3.4.9 (porsager/postgres#1154, #1208, still open upstream): a write smaller than 1 KiB is
// sent from a `setImmediate`. If the connection closes first, `closed()` has set `socket` to null, and
// the deferred write throws a TypeError that no caller can catch: the process dies. It happens when a
// transaction goes on with a query after its connection was lost, e.g. while Postgres restarts. Both
// teardown paths also cancel the deferred write without forgetting it, so a connection that closed with
// a write pending never schedules one again. The mend: a query for a connection without a socket fails
// with CONNECTION_CLOSED (a catchable error), a deferred write finding no socket is dropped, and
// teardown forgets the pending write.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const marker = "/* kubernease: mended */";

const mends = [
  {
    files: ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"],
    edits: [
      // A query for a connection that has lost its socket (a transaction going on after the loss) fails.
      // It answers true ("not full"), so that the pool does not move the closed connection out of the
      // queue it reconnects from.
      {
        from: "  function execute(q) {\n    if (terminated)\n",
        to: "  function execute(q) {\n    if (socket === null)\n      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)\n    if (terminated)\n",
      },
      // Nothing else writes without a socket; if something did, its bytes have nowhere to go.
      {
        from: "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
        to: "  function nextWrite(fn) {\n    if (socket === null)\n      return (chunk = nextWriteTimer = null, false)\n    const x = socket.write(chunk, fn)",
      },
      // terminate() and closed(): the same line, both mended.
      {
        from: "    clearImmediate(nextWriteTimer)\n",
        to: "    clearImmediate(nextWriteTimer), chunk = nextWriteTimer = null\n",
        all: true,
      },
    ],
  },
];

let failed = false;
for (const mend of mends) {
  for (const relative of mend.files) {
    const file = join(root, relative);
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // not installed (e.g. a production install without it)
    }
    if (text.includes(marker)) continue;
    let mended = text;
    for (const edit of mend.edits) {
      if (!mended.includes(edit.from)) {
        console.warn(`patch-deps: ${relative} no longer holds the code it mends; left as it is`);
        mended = null;
        break;
      }
      mended = edit.all ? mended.split(edit.from).join(edit.to) : mended.replace(edit.from, edit.to);
    }
    if (mended === null) continue;
    try {
      writeFileSync(file, `${marker}\n${mended}`);
    } catch (error) {
      console.error(`patch-deps: cannot write ${relative}: ${error.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
