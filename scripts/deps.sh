#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what pam-jit needs to build and test, from Debian 12 packages.
# Idempotent; needs root.  Used by the README commands and by .ci/run.
set -eu
[ "$(id -u)" = 0 ] || { echo "deps.sh: run as root (apt-get)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
pkgs="autoconf automake libtool pkg-config make gcc clang libclang-rt-14-dev
  libpam0g-dev libkrb5-dev libldap-dev libcurl4-openssl-dev libssl-dev libjansson-dev
  libsqlite3-dev check valgrind strace python3 util-linux binutils
  openssl ca-certificates libpam-modules libmicrohttpd-dev libgnutls28-dev libpq-dev postgresql
  openssh-server openssh-client passwd python3-yaml groff-base
  krb5-kdc krb5-admin-server krb5-user curl iproute2 sudo
  slapd ldap-utils libsasl2-dev libsasl2-modules-gssapi-mit
  dpkg-dev debhelper fakeroot lintian libpam-runtime git"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps.sh: installing:$missing"
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
