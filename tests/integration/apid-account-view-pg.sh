#!/bin/sh
# SPDX-License-Identifier: MIT
# The account-view test (apid-account-view.sh) with jit-apid on PostgreSQL.
VIEW_ON_PG=1
export VIEW_ON_PG
exec sh "$top_srcdir/tests/integration/apid-account-view.sh"
