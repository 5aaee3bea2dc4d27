#!/usr/bin/env python3
"""make_cfg.py - the shipped examples/haproxy/rulsrv.cfg with only its addresses replaced: the
two listeners on loopback ports, the stats socket in the test's folder, and the server lines
of each backend by the local instances. Fails when the example no longer has the lines it
replaces, so the tests always run the file users get.

Usage: make_cfg.py EXAMPLE OUT PREDICT_PORT FEEDBACK_PORT SOCKET \
           --predict NAME=PORT... --feedback NAME=PORT...
"""
import argparse
import re
import sys

p = argparse.ArgumentParser()
p.add_argument("example")
p.add_argument("out")
p.add_argument("predict_port")
p.add_argument("feedback_port")
p.add_argument("socket")
p.add_argument("--predict", nargs="+", required=True)
p.add_argument("--feedback", nargs="+", required=True)
a = p.parse_args()

cfg = open(a.example).read()
for pat, rep in [
    (r"(?m)^    bind :3000$", f"    bind 127.0.0.1:{a.predict_port}"),
    (r"(?m)^    bind :3001$", f"    bind 127.0.0.1:{a.feedback_port}"),
    (r"(?m)^    stats socket \S+", f"    stats socket {a.socket}"),
]:
    cfg, k = re.subn(pat, rep, cfg)
    if k != 1:
        sys.exit(f"FAIL: {pat!r} matched {k} times in the example configuration")


def servers(kind, balance, instances):
    global cfg
    cfg, k = re.subn(r"(?m)^    server %s\d+ .*\n" % kind, "", cfg)
    if k < 2:
        sys.exit(f"FAIL: the example has {k} {kind} servers")
    lines = "".join(f"    server {n} 127.0.0.1:{port} check\n"
                    for n, port in (i.split("=", 1) for i in instances))
    head = f"    balance {balance}\n"
    if head not in cfg:
        sys.exit(f"FAIL: the example's {kind} backend has no '{head.strip()}'")
    cfg = cfg.replace(head, head + lines, 1)


servers("predict", "hdr(X-Rulsrv-Unit)", a.predict)
servers("feedback", "leastconn", a.feedback)
open(a.out, "w").write(cfg)
