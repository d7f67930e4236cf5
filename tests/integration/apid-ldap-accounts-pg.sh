#!/bin/sh
# SPDX-License-Identifier: MIT
# The directory accounts' test (apid-ldap-accounts.sh) with jit-apid on
# PostgreSQL.
LDAP_ACCOUNTS_ON_PG=1
export LDAP_ACCOUNTS_ON_PG
exec sh "$top_srcdir/tests/integration/apid-ldap-accounts.sh"
