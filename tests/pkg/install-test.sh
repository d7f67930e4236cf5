#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian packages as a packager would try them: installed with dpkg
# into a throwaway Debian 12 root (an overlay of the running system,
# upper layer on a tmpfs, in private mount, PID and network namespaces,
# chrooted into: this machine's own root is never written), a host
# configured with jitctl and the example files only, jit-apid run from
# its package as its own user, a grant requested with jit resolving and
# an ssh login through the stock /etc/pam.d/sshd working; then remove
# and purge, after which /etc/nsswitch.conf, /etc/pam.d and /etc/ssh
# are byte for byte as before.
#
#   sh tests/pkg/install-test.sh DEBDIR
#
# DEBDIR holds libnss-jit, libpam-jit, jitctl, jit-apid and jit .debs.
# Needs root and unshare; exit 77 (skip) without them.  Everything it
# starts lives in the PID namespace, so it all ends with the namespace;
# the servers are also stopped by pid.  Test accounts: uids 99000-99099.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DEBS=${1:?usage: install-test.sh DEBDIR}
DEBS=$(cd "$DEBS" && pwd)
TIMEOUT=${PKG_TEST_TIMEOUT:-600}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
unshare -m -p -f -n --kill-child true 2>/dev/null \
    || { echo "SKIP: unshare -mpfn does not work here"; exit 77; }
for p in libnss-jit libpam-jit jitctl jit-apid jit; do
    ls "$DEBS/${p}_"*.deb >/dev/null 2>&1 || { echo "FAIL: no ${p}_*.deb in $DEBS"; exit 1; }
done
command -v pam-auth-update >/dev/null && [ -x /usr/sbin/sshd ] \
    || { echo "SKIP: needs libpam-runtime and openssh-server on this system (the overlay's lower layer)"; exit 77; }

T=$(mktemp -d /tmp/pkg-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/in"
for p in libnss-jit libpam-jit jitctl jit-apid jit; do
    cp "$DEBS/${p}_"*.deb "$T/in/"
done
cp "$HERE/install-test-root.sh" "$HERE/../integration/lib/wait.sh" "$T/in/"

# In the namespaces: the overlay, its /proc, /dev and /run, then the
# test inside the root.  The upper layer is on a tmpfs: all of it goes
# when the namespace ends, whatever happens.
cat > "$T/ns.sh" <<NS
set -eu
mount --make-rprivate /
ip link set lo up
mkdir -p "$T/ov"
mount -t tmpfs -o mode=700 tmpfs "$T/ov"
mkdir "$T/ov/upper" "$T/ov/work" "$T/ov/root"
mount -t overlay overlay -o lowerdir=/,upperdir=$T/ov/upper,workdir=$T/ov/work "$T/ov/root"
R=$T/ov/root
mount -t proc proc "\$R/proc"
mount --rbind /dev "\$R/dev"
mount -t tmpfs -o mode=755 tmpfs "\$R/run"
mount -t tmpfs -o mode=1777 tmpfs "\$R/tmp"
mkdir -p "\$R/root/pkgtest"
cp "$T"/in/* "\$R/root/pkgtest/"
exec chroot "\$R" /bin/sh /root/pkgtest/install-test-root.sh
NS
t0=$(date +%s)
set +e
timeout -s KILL "$TIMEOUT" unshare -m -p -f -n --kill-child sh "$T/ns.sh"
rc=$?
set -e
echo "install test: $(( $(date +%s) - t0 )) s, exit status $rc"
[ $rc != 137 ] || echo "FAIL: killed after ${TIMEOUT} s"
exit $rc
