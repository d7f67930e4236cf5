#!/bin/sh
# SPDX-License-Identifier: MIT
# The alert test (apid-alerts.sh) with jit-apid on PostgreSQL.
ALERTS_ON_PG=1
export ALERTS_ON_PG
exec sh "$top_srcdir/tests/integration/apid-alerts.sh"
