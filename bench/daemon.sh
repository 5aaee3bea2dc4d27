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
