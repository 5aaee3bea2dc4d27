# floor.sh - the HTTP floor of the benchmarks, sourced by bench/run.sh: nginx (Debian
# nginx-light) answering the same bytes a real /v1/predict answer has, to the same POST bodies.
#
# nginx reads the whole body before it answers: `mirror_request_body on` makes the mirror
# module read it into one buffer (client_body_buffer_size, client_body_in_single_buffer) in
# the precontent phase, before the static module serves the answer file. Without the mirror,
# `return 200 '...'` (rewrite phase) and the static module both answer at once and discard the
# body afterwards: an answer sent while half the body is still unsent, which is no floor for a
# server that must parse it. The mirror's subrequest goes to an internal location that returns
# 204 at once, a small cost the floor carries and rulsrv does not. The static module refuses
# POST with 405; `error_page 405 =200 $uri` turns that into the file with a 200 (an internal
# redirect, another small cost of the floor's). nginx-light has no lua and no echo, and a
# proxy would measure two servers.
#
# Needs from run.sh: $work, $src, the PID and PORT arrays, say().
FLOOR_NGINX="${FLOOR_NGINX:-/usr/sbin/nginx}"

# A loopback port nothing listens on (bash /dev/tcp connects, or fails), below the kernel's
# ephemeral range (32768 up), where client sockets of other programs would take it.
floor_free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# floor_start: nginx as a plain process (no daemon, its own config and scratch folder), one
# worker per core as rulsrv has one thread per core; PID[floor] and PORT[floor] set. A port
# taken between the check and nginx's bind: another port, up to 5 times.
floor_start() {
	local try
	[ -x "$FLOOR_NGINX" ] || { say "no nginx at $FLOOR_NGINX (apt-get install nginx-light): no floor"; return 1; }
	for try in 1 2 3 4 5; do
		floor_start_once && return 0
		kill "${PID[floor]}" 2>/dev/null || true
		wait "${PID[floor]}" 2>/dev/null || true
		unset "PID[floor]"
	done
	cat "$work/floor/error.log" >&2
	say "nginx did not start: no floor"
	return 1
}

# floor_location PATH [DIRECTIVE...]: the nginx location that reads a POST body to PATH whole,
# then answers the file root/PATH with a 200, plus the directives given (a default_type, an
# add_header). A caller with other routes sets FLOOR_LOCATIONS to more of these before
# floor_start, and writes their files under $work/floor/root.
floor_location() {
	local path="$1" d="$work/floor"
	shift
	cat <<LOCATION
		location = $path {
			client_max_body_size 64m;
			client_body_buffer_size 64m;
			client_body_in_single_buffer on;
			mirror /floor-sink;
			mirror_request_body on;
			root $d/root;
			error_page 405 =200 \$uri;$([ $# -eq 0 ] || printf '\n\t\t\t%s;' "$@")
		}
LOCATION
}

floor_start_once() {
	local d="$work/floor" port i
	mkdir -p "$d/root/v1" "$d/body"
	port="$(floor_free_port)" || return 1
	echo '{}' >"$d/root/v1/predict"
	cat >"$d/nginx.conf" <<NGINX
daemon off;
$([ "$(id -u)" = 0 ] && echo "user root; # the workers read the scratch folder, mode 0700")
worker_processes $(nproc);
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 4096; }
http {
	access_log off;
	default_type application/json;
	client_body_temp_path $d/body;
	etag off;
	server {
		listen 127.0.0.1:$port;
		keepalive_requests 1000000;
$(floor_location /v1/predict)
${FLOOR_LOCATIONS:-}
		location = /floor-sink { internal; return 204; }
	}
}
NGINX
	"$FLOOR_NGINX" -c "$d/nginx.conf" -p "$d" 2>>"$d/error.log" &
	PID[floor]=$!
	PORT[floor]="$port"
	for i in $(seq 1 200); do
		kill -0 "${PID[floor]}" 2>/dev/null || return 1
		[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{}' \
			"http://127.0.0.1:$port/v1/predict")" = 200 ] && return 0
		sleep 0.05
	done
	return 1
}

# floor_answer BODY DAEMON: the answer nginx gives is the one DAEMON gives to the body (the
# file is opened per request: no reload).
floor_answer() {
	curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$work/bodies/$1.json" \
		-o "$work/floor/root/v1/predict.new" "http://127.0.0.1:${PORT[$2]}/v1/predict"
	mv "$work/floor/root/v1/predict.new" "$work/floor/root/v1/predict"
}

# "nginx 1.22.1", or a note that the floor was not run.
floor_version() {
	if [ "${floor:-0}" = 1 ]; then
		"$FLOOR_NGINX" -v 2>&1 | sed 's/^nginx version: nginx\//nginx /'
	else
		echo "none (nginx not found: figures without a floor)"
	fi
}
