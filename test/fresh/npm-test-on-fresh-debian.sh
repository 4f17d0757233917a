#!/usr/bin/env bash
# README's second command on a fresh machine, by hand (it takes 10-20 minutes
# and the network): `npm test` as root on a Debian 12 that has Node and npm
# and nothing else, on a clone of this checkout's committed tree.
#   bash test/fresh/npm-test-on-fresh-debian.sh [test files...]
# Without test files it runs every file but the booted, Wine and fresh-machine
# ones; name those to run them too (they make their own root filesystems
# inside, in the fresh machine's /var/cache/nhiicc-test).
# The fresh root is the one test/fresh/fresh-machine.test.ts makes (run it
# once first); this run's changes go to an overlay under $FRESH_DIR.
set -euo pipefail
# Every mount in a private mount namespace and every process in a private pid
# namespace: all gone when the script ends. The network stays the host's
# (apt-get, npm), so nothing else may use the vpcd ports meanwhile.
[ "${FRESH_NS:-}" = 1 ] || FRESH_NS=1 exec unshare --mount --pid --fork --mount-proc --propagation private "$0" "$@"
repo=$(cd "$(dirname "$0")/../.." && pwd)
base=$(ls -d /var/cache/nhiicc-test/rootfs/fresh-debian12-* 2>/dev/null | head -1)
[ -n "$base" ] || { echo "no fresh Debian 12 root yet: run npx tap test/fresh/fresh-machine.test.ts once" >&2; exit 1; }
w=${FRESH_DIR:-/var/tmp/nhiicc-fresh}
rm -rf "$w"; mkdir -p "$w/up" "$w/work" "$w/root" "$w-cache"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$w/up,workdir=$w/work" "$w/root"
r=$w/root
cp "$(command -v node)" "$r/usr/bin/node"
mkdir -p "$r/usr/lib/node_modules" && cp -a "$(npm root -g)/npm" "$r/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/bin/npx"
cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$r/etc/resolv.conf"
git clone -q "$repo" "$r/root/nhiicc"
for d in proc dev sys; do mount --rbind "/$d" "$r/$d"; done
# The test cache on a real disk, as on a machine: overlayfs cannot take
# another overlayfs as its upper layer.
mkdir -p "$r/var/cache/nhiicc-test" && mount --bind "$w-cache" "$r/var/cache/nhiicc-test"
files=${*:-$(cd "$r/root/nhiicc" && ls test/*/*.test.ts | grep -vE 'deb-debian|test/wine/|test/fresh/' | tr '\n' ' ')}
# pivot_root, not chroot: in a chroot the kernel refuses user namespaces,
# which the booted test's systemd units use.
mkdir -p "$r/.oldroot"
cd "$r" && pivot_root . .oldroot
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
  sh -c "umount -l /.oldroot && cd /root/nhiicc && npm test -- $files"
