#!/usr/bin/env bash
# What `npm test` runs. In order, stopping at the first failure:
#   services (Postgres, Redis: found or started, scripts/services.sh) → types (tsc) →
#   lint + format check + time/chance ban (biome ci, biome-plugins/no-wall-clock.grit) →
#   import rules (dependency-cruiser) → tests (vitest).
# Arguments go to vitest: `npm test -- src/core` runs only the tests under src/core.
# Ends with one line, `tests: N passed, M failed[, K skipped]`, and vitest's exit code.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The project's own tools, never a download: `npx` would fetch a same-named package if missing.
export PATH="$PWD/node_modules/.bin:$PATH"

run_step() {
  local name="$1"
  shift
  printf '\n== %s: %s\n' "$name" "$*" >&2
  local rc=0
  "$@" || rc=$?
  if ((rc != 0)); then
    printf '\nnpm test: FAILED at %s (exit %d): %s\n' "$name" "$rc" "$*" >&2
    exit "$rc"
  fi
}

if [[ ! -x node_modules/.bin/vitest ]]; then
  echo "npm test: node_modules is missing or incomplete; run 'npm ci' first." >&2
  exit 1
fi

# Dependency mends (scripts/patch-deps.mjs) are applied by `npm ci`; again here for a node_modules from elsewhere.
run_step mends node scripts/patch-deps.mjs

# shellcheck source=scripts/services.sh
source scripts/services.sh
run_step services ensure_services

run_step types tsc --noEmit -p .
# Plain diagnostics when the output is a log file rather than a terminal.
biome_colors=()
[[ -t 1 ]] || biome_colors=(--colors=off)
run_step lint biome ci "${biome_colors[@]}" .
run_step imports depcruise src --config .dependency-cruiser.cjs

report=.test-results/vitest.json
# Files that measure behaviour under their own load (zero failed requests through rollouts) run after
# the suite, on their own: the suite's Docker-heavy files beside them starve their single node.
alone=(test/e2e/routing.test.ts)
alone_report=.test-results/vitest-alone.json
mkdir -p .test-results
rm -f "$report" "$alone_report"
printf '\n== tests: vitest run %s\n' "$*" >&2
vitest_rc=0
reports=("$report")
if (($# == 0)); then
  excludes=()
  for file in "${alone[@]}"; do excludes+=(--exclude "$file"); done
  vitest run --reporter=default --reporter=json --outputFile.json="$report" "${excludes[@]}" || vitest_rc=$?
  printf '\n== tests, on their own: %s\n' "${alone[*]}" >&2
  vitest run --reporter=default --reporter=json --outputFile.json="$alone_report" "${alone[@]}" || vitest_rc=$?
  reports+=("$alone_report")
else
  vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || vitest_rc=$?
fi

summary_rc=0
node scripts/summary.mjs "${reports[@]}" || summary_rc=$?
if ((vitest_rc != 0)); then
  exit "$vitest_rc"
fi
exit "$summary_rc"
