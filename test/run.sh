#!/usr/bin/env bash
# The test command (`npm test`): prepares a fresh Debian machine, builds, runs every test.
# It says what it installs or starts; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[test setup] $*"; }

# System packages the real-stack tests use: PC/SC (pcscd + the vpcd virtual
# reader; the card layer loads libpcsclite1 through koffi, nothing is
# compiled), NSS and browser for trust and page tests, packaging tools for the
# installer tests (dpkg-dev and binutils for the .deb's library dependencies
# and stripping, lintian to check it, git to build it from a fresh clone
# of this checkout), and mmdebstrap + systemd-container to
# boot Debian 12 and 13 for the .deb test; mmdebstrap also makes the Windows
# test's Debian 13 with Wine.
declare -A NEED=(
  [pcscd]=pcscd
  [vsmartcard-vpcd]=vsmartcard-vpcd
  [libpcsclite1]=libpcsclite1
  [libnss3-tools]=libnss3-tools
  [chromium]=chromium
  [fonts-wqy-microhei]=fonts-wqy-microhei
  [curl]=curl
  [git]=git
  [openssl]=openssl
  [iproute2]=iproute2
  [procps]=procps
  [ca-certificates]=ca-certificates
  [rpm]=rpm
  [systemd]=systemd
  [wixl]=wixl
  [msitools]=msitools
  [python3]=python3
  [dpkg-dev]=dpkg-dev
  [binutils]=binutils
  [lintian]=lintian
  [mmdebstrap]=mmdebstrap
  [systemd-container]=systemd-container
)
missing=()
for pkg in "${!NEED[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "[test setup] missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  say "installing with apt-get: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  say "installed: ${missing[*]}"
else
  say "Debian packages present"
fi

# Node dependencies: prebuilt only, nothing compiles (allowScripts in package.json).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

say "building (tsc) and bundling (esbuild: npm run bundle)"
npm run --silent build

# The tests are TypeScript too, run by tsx, which strips types without
# checking them: tsc checks them (and bench/) before they run.
say "type-checking src/, test/ and bench/ (tsc -p tsconfig.test.json)"
npm run --silent typecheck

# Zero findings, whatever their level: biome fails only on errors (and with
# --error-on-warnings on warnings), so any line it prints fails the run.
say "linting (biome lint, biome.jsonc): no finding of any level is allowed"
lint=$(npx biome lint --error-on-warnings --reporter=github --max-diagnostics=none 2>&1) || { echo "$lint" >&2; exit 1; }
if [ -n "$lint" ]; then
  echo "$lint" >&2
  echo "[test setup] biome lint reported the findings above: fix them, or say in biome.jsonc why a rule does not apply" >&2
  exit 1
fi
npm run --silent bundle >/dev/null

# The Node the packages carry for this machine, pinned in installers/node-runtime.ts:
# the bundled program is tested on it as well. Fetched from the npm registry once.
say "the packages' Node runtimes and koffi binaries for every target, from the npm registry once (installers/prefetch.ts; cached in installers/.cache)"
npx tsx installers/prefetch.ts
say "the packages' Node runtime for this machine (installers/node-runtime.ts)"
packaged_node=$(npx tsx installers/node-runtime.ts)
say "  $packaged_node ($("$packaged_node" --version))"

passed=0 failed=0 skipped=0 status=0
# Runs tap with the given environment and arguments; adds its summary to the totals.
run_tap() {
  local log
  log=$(mktemp)
  set +e
  env "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  ((rc == 0)) || status=$rc
  # One plain closing line, from tap's own summary.
  local summary
  summary=$(grep -E '^# \{ total' "$log" | tail -1)
  passed=$((passed + $(grep -oE 'pass: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)))
  failed=$((failed + $(grep -oE 'fail: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)))
  skipped=$((skipped + $(grep -oE 'skip: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)))
  rm -f "$log"
}

say "running tests (pcscd, vpcd cards, fake SAM and browsers are started by the tests and stopped after)"
run_tap npx tap "$@"

# The service and CLI tests once more against the bundle, as the packages run it.
BUNDLE_TESTS=(test/server/protocol.test.ts test/server/h-sign-wss.test.ts test/pcsc/read-cli.test.ts test/doctor/bed.test.ts)
if (($# == 0)); then
  say "running the service and CLI tests against the bundled program (dist/bundle) on the packages' Node $("$packaged_node" --version)"
  run_tap NHIICC_TEST_BUNDLE=dist/bundle NHIICC_TEST_NODE="$packaged_node" npx tap "${BUNDLE_TESTS[@]}"
else
  say "tests named on the command line: the second run against the bundle is left out (run it with NHIICC_TEST_BUNDLE=dist/bundle NHIICC_TEST_NODE=$packaged_node npx tap <files>)"
fi

echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
# This script installed every prerequisite, so in CI a skipped test is a failure.
if [ "${CI:-}" = true ] && [ "$skipped" != 0 ] && [ "$status" = 0 ]; then
  echo "[test setup] ${skipped} tests were skipped (reasons above, marked SKIP): failing in CI" >&2
  exit 1
fi
exit "$status"
