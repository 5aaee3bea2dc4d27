# shellcheck shell=bash
# daemon.sh - sourced by bench scripts that start rulsrv with `listen = "127.0.0.1:0"`.
# ready_port LOG SERVICE TRIES: print the port SERVICE logged it listens on, once its /readyz
# answers 200; nothing when that did not happen within TRIES tenths of a second.
ready_port() {
	local log=$1 service=$2 tries=$3 port _
	for _ in $(seq "$tries"); do
		port=$(sed -n "s/.*service '$service' listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$log")
		if [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then
			echo "$port"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# live_port LOG PID: print the port the daemon PID logged to LOG (a new file for each start,
# so nothing a stopped daemon wrote is read as its port), once its /healthz answers; polled
# every 10 ms, so a restart's time can be read off it. Prints the log and returns 1 when the
# daemon died first.
live_port() {
	local log=$1 pid=$2 port=""
	while [ -z "$port" ]; do
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
		port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$port" ] || sleep 0.01
	done
	until curl -sf -m 5 "http://127.0.0.1:$port/healthz" >/dev/null; do
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
		sleep 0.01
	done
	echo "$port"
}

# bench_scratch NAME: a new folder $work (/tmp/rulsrv-NAME.*) and the arrays PID and PORT of the
# daemons the script starts (floor.sh's nginx among them, as PID[floor]); on exit every one of
# them is stopped and the folder removed.
bench_scratch() {
	work="$(mktemp -d "/tmp/rulsrv-$1.XXXXXX")"
	declare -gA PID PORT
	trap bench_cleanup EXIT
}
# shellcheck disable=SC2317  # run by the EXIT trap
bench_cleanup() {
	local n
	for n in "${!PID[@]}"; do
		kill "${PID[$n]}" 2>/dev/null || true
		wait "${PID[$n]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
