#!/usr/bin/env bash
# The test command (`npm test`): prepares a fresh Debian machine, builds, runs every test.
# It says what it installs or starts; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[test setup] $*"; }

# System packages the real-stack tests use: PC/SC (pcscd + the vpcd virtual
# reader; the card layer loads libpcsclite1 through koffi, nothing is
# compiled), NSS and browser for trust and page tests, packaging tools for the
# installer tests, mmdebstrap for the root filesystems of whole-system tests
# (the Windows test's Debian 13 with Wine; made once, reused).
declare -A NEED=(
  [pcscd]=pcscd
  [vsmartcard-vpcd]=vsmartcard-vpcd
  [libpcsclite1]=libpcsclite1
  [libnss3-tools]=libnss3-tools
  [chromium]=chromium
  [fonts-wqy-microhei]=fonts-wqy-microhei
  [curl]=curl
  [openssl]=openssl
  [iproute2]=iproute2
  [procps]=procps
  [ca-certificates]=ca-certificates
  [rpm]=rpm
  [systemd]=systemd
  [wixl]=wixl
  [msitools]=msitools
  [mono-mcs]=mono-mcs
  [libmono-system-serviceprocess4.0-cil]=libmono-system-serviceprocess4.0-cil
  [python3]=python3
  [mmdebstrap]=mmdebstrap
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

say "building (tsc)"
npm run --silent build

say "running tests (pcscd, vpcd cards, fake SAM and browsers are started by the tests and stopped after)"
log=$(mktemp)
set +e
npx tap "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line, from tap's own summary.
summary=$(grep -E '^# \{ total' "$log" | tail -1)
passed=$(grep -oE 'pass: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
failed=$(grep -oE 'fail: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
skipped=$(grep -oE 'skip: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
# This script installed every prerequisite, so in CI a skipped test is a failure.
if [ "${CI:-}" = true ] && [ "$skipped" != 0 ] && [ "$status" = 0 ]; then
  echo "[test setup] ${skipped} tests were skipped (reasons above, marked SKIP): failing in CI" >&2
  exit 1
fi
exit "$status"
