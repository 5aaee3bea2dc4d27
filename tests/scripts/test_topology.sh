#!/usr/bin/env bash
# test_topology.sh - the scale-out topology of docs/SCALING.md in `make test` (and `make
# test-topology` alone): PostgreSQL, HAProxy with examples/haproxy/rulsrv.cfg, Prometheus, 3
# prediction and 2 feedback instances on loopback, a replay through HAProxy with one
# prediction and one feedback instance SIGKILLed a third of the way in. It must finish with
# retries only, lose no acknowledged record or cycle, and leave the feedback count and
# all-time RMSE of the same replay against one instance. tests/scripts/topology/run_topology.sh
# starts and stops everything and skips (77) when a program is absent (make test-deps
# installs them); check_topology.py holds the checks.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
exec bash "$src/tests/scripts/topology/run_topology.sh"
