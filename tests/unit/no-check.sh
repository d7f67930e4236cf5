#!/bin/sh
# SPDX-License-Identifier: MIT
# Registered instead of the unit tests when configure did not find the
# check library (>= 0.11): a visible SKIP saying what to install.
echo "SKIP: unit tests not built: configure found no check >= 0.11 (Debian: apt-get install check), then configure again"
exit 77
