#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a command in a private mount namespace where glibc uses the given
# nsswitch.conf (and, optionally, passwd file), and where the compiled-in
# state directory of libnss_jit shows the given one.  Nothing outside the
# namespace changes.  Needs root.
#
#   nsrun.sh BUILTIN_STATE_DIR STATE_DIR NSSWITCH PASSWD|- WORKDIR -- CMD...
#
# If BUILTIN_STATE_DIR does not exist on this machine, its nearest existing
# ancestor is overlaid (in the namespace only) with the missing components.
set -eu
[ $# -ge 7 ] && [ "$6" = -- ] || { echo "usage: $0 BUILTIN STATE NSSWITCH PASSWD|- WORKDIR -- CMD..." >&2; exit 2; }
builtin=$1 state=$2 nsswitch=$3 passwd=$4 work=$5
shift 6
exec unshare -m --propagation private /bin/sh -eu -c '
builtin=$1 state=$2 nsswitch=$3 passwd=$4 work=$5
shift 5
if [ ! -d "$builtin" ]; then
    anc=$builtin; missing=
    while [ ! -d "$anc" ]; do
        missing=$(basename "$anc")/$missing; anc=$(dirname "$anc")
    done
    mkdir -p "$work/ovl/$missing"
    mount -t overlay overlay -o "lowerdir=$work/ovl:$anc" "$anc"
fi
mount --bind "$state" "$builtin"
mount --bind "$nsswitch" /etc/nsswitch.conf
[ "$passwd" = - ] || mount --bind "$passwd" /etc/passwd
exec "$@"
' nsrun "$builtin" "$state" "$nsswitch" "$passwd" "$work" "$@"
