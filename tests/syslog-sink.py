#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A syslog receiver for tests and the demo: a unix datagram socket at
PATH (bind-mounted over /dev/log in a private namespace); every message is
appended to OUT as one line, with its facility and severity spelled out.

  syslog-sink.py PATH OUT
"""
import os
import socket
import sys

FACILITIES = {0: "kern", 1: "user", 4: "auth", 10: "authpriv", 3: "daemon"}
SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info",
              "debug"]


def main():
    path, out = sys.argv[1:3]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "a", buffering=1) as f:
        while True:
            data = s.recv(65536).decode("utf-8", "replace").rstrip("\n\0")
            prio = None
            if data.startswith("<") and ">" in data[:5]:
                prio = int(data[1:data.index(">")])
                data = data[data.index(">") + 1:]
            if prio is not None:
                fac = FACILITIES.get(prio >> 3, str(prio >> 3))
                data = "%s.%s %s" % (fac, SEVERITIES[prio & 7], data)
            f.write(data.replace("\n", " ") + "\n")


if __name__ == "__main__":
    main()
