#!/usr/bin/env bash
# What tracing costs: throughput and p99 latency through two sidecars (A outbound -> mTLS h2 ->
# B inbound -> nginx), with tracing off, sampled at 1% and at 100%, measured in one run with the
# rounds interleaved (off, 1%, 100%, off, ...) so machine noise hits every mode alike.
#
#   perf/e2e/tracing.sh [ROUNDS] [SECONDS] [CONNECTIONS]      (defaults: 8 rounds of 6 s, 32 connections)
#   WARMUP=40 (seconds per pair before the rounds), BENCH_JAVA_OPTS (the sidecars' JVM flags),
#   MODES="off 1 100" (add "off-b", a second untraced pair, to see how much two identical pairs differ),
#   PIN=1 (default on a 2-core machine): sidecars on CPU 0, wrk and nginx on CPU 1, so the load
#   generator does not steal the sidecars' CPU at random moments.
#
# Needs wrk and nginx (apt-get install -y wrk nginx-light). Spans are exported to a sink that
# accepts Zipkin v2 POSTs and discards them (an nginx location), so the exporter does all its
# real work (batching, JSON encoding, HTTP) but no trace backend competes for the CPU.
# Results: perf/results/tracing-<date>.csv (every round) and a summary on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${1:-8}"; secs="${2:-6}"; conns="${3:-32}"
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "tracing.sh: $tool is needed (apt-get install -y wrk nginx-light)" >&2; exit 1; }
done
"$here/ward" --version >/dev/null   # builds the jar if needed
jar="$here/proxy/target/ward.jar"
work="$(mktemp -d /tmp/ward-tracing-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

pin_sidecars=(); pin_load=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_sidecars=(taskset -c 0); pin_load=(taskset -c 1)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Upstream app and span sink: nginx, one worker.
app_port=$(free_port); sink_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$app_port; keepalive_requests 1000000; location / { return 200 "hello from the app\n"; } }
  server { listen 127.0.0.1:$sink_port; keepalive_requests 1000000; client_max_body_size 64m;
           location /api/v2/spans { client_body_in_single_buffer on; return 202; } }
}
NGINX
"${pin_load[@]}" nginx -c "$work/nginx.conf" -p "$work"

java -jar "$jar" certs ca --out "$work/ca" --trust-domain bench.ward.test >/dev/null
for sa in frontend orders; do
  java -jar "$jar" certs issue --ca "$work/ca" --id "spiffe://bench.ward.test/ns/bench/sa/$sa" --out "$work/$sa" >/dev/null
done

wait_ready() { for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "sidecar on admin port $1 not ready" >&2; exit 1; }

# One pair of sidecars per mode, all started up front.
declare -A entry
modes=(${MODES:-off 1 100})
for mode in "${modes[@]}"; do
  case "$mode" in
    off|off-b) tracing="" ;;
    1) tracing="tracing: { exporter: zipkin, endpoint: http://127.0.0.1:$sink_port, sampling: 0.01 }" ;;
    100) tracing="tracing: { exporter: zipkin, endpoint: http://127.0.0.1:$sink_port, sampling: 1.0 }" ;;
    *) echo "tracing.sh: unknown mode $mode (off, off-b, 1, 100)" >&2; exit 2 ;;
  esac
  b_in=$(free_port); b_admin=$(free_port); a_up=$(free_port); a_admin=$(free_port)
  cat >"$work/b-$mode.yaml" <<YAML
identity: { cert: $work/orders/tls.crt, key: $work/orders/tls.key, bundle: $work/orders/ca.crt }
inbound: { listen: 127.0.0.1:$b_in, app: 127.0.0.1:$app_port, allow: [ spiffe://bench.ward.test/ns/bench/sa/frontend ] }
outbound: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:$b_admin }
accessLog: off
auditLogFile: $work/b-$mode-audit.log
workers: 1
$tracing
YAML
  cat >"$work/a-$mode.yaml" <<YAML
identity: { cert: $work/frontend/tls.crt, key: $work/frontend/tls.key, bundle: $work/frontend/ca.crt }
inbound: { enabled: false }
outbound:
  listen: 127.0.0.1:0
  upstreams:
    orders: { address: 127.0.0.1:$b_in, identity: spiffe://bench.ward.test/ns/bench/sa/orders, listen: 127.0.0.1:$a_up }
admin: { listen: 127.0.0.1:$a_admin }
accessLog: off
auditLogFile: $work/a-$mode-audit.log
workers: 1
$tracing
YAML
  "${pin_sidecars[@]}" java ${BENCH_JAVA_OPTS:-} -jar "$jar" proxy --config "$work/b-$mode.yaml" >"$work/b-$mode.log" 2>&1 & pids+=($!)
  entry[pid_b_$mode]=$!
  "${pin_sidecars[@]}" java ${BENCH_JAVA_OPTS:-} -jar "$jar" proxy --config "$work/a-$mode.yaml" >"$work/a-$mode.log" 2>&1 & pids+=($!)
  entry[pid_a_$mode]=$!
  wait_ready "$b_admin"; wait_ready "$a_admin"
  entry[$mode]="$a_up"
  entry[admin_$mode]="$a_admin"
done

warmup="${WARMUP:-40}"
echo "warming up each pair (${warmup} s each: the JIT must be done before anything is compared)..." >&2
for mode in "${modes[@]}"; do "${pin_load[@]}" wrk -t1 -c"$conns" -d"${warmup}s" "http://127.0.0.1:${entry[$mode]}/" >/dev/null; done

csv="$here/perf/results/tracing-$(date -u +%Y-%m-%d).csv"
echo "round,mode,requests_per_s,p50_ms,p99_ms,cpu_us_per_request,errors" >"$csv"
# CPU time (user + system, in clock ticks) both sidecars of a pair have used so far.
cpu_ticks() { awk '{ t += $14 + $15 } END { print t }' "/proc/$1/stat" "/proc/$2/stat"; }
hz="$(getconf CLK_TCK)"
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }
n=${#modes[@]}
for r in $(seq 1 "$rounds"); do
  # Each round starts with the next mode, so no mode always runs first (or last) in a round.
  for k in $(seq 0 $((n - 1))); do
    mode="${modes[$(( (r - 1 + k) % n ))]}"
    before="$(cpu_ticks "${entry[pid_a_$mode]}" "${entry[pid_b_$mode]}")"
    out="$("${pin_load[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${entry[$mode]}/")"
    after="$(cpu_ticks "${entry[pid_a_$mode]}" "${entry[pid_b_$mode]}")"
    total="$(awk '/requests in/ {print $1}' <<<"$out")"
    cpu_us="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")"
    p99="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")"
    errs="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')"
    echo "$r,$mode,$rps,$p50,$p99,$cpu_us,${errs:-0}" >>"$csv"
    echo "round $r  tracing $mode: $rps req/s  p50 ${p50} ms  p99 ${p99} ms  sidecar CPU ${cpu_us} us/request ${errs}" >&2
  done
done
for mode in "${modes[@]}"; do
  [ "${mode#off}" != "$mode" ] && continue
  curl -fs "http://127.0.0.1:${entry[admin_$mode]}/metrics" | grep -E '^ward_tracing_spans_(exported|dropped)_total' | sed "s/^/  $mode%: /" >&2 || true
done

python3 - "$csv" "${modes[@]}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
modes = sys.argv[2:]
by = {}
for r in rows:
    by.setdefault(r["mode"], {})[r["round"]] = r
rounds = sorted(by["off"], key=int)
def med(m, col):
    return statistics.median(float(by[m][k][col]) for k in rounds)
def ratio(m, col):  # median of the per-round ratios: each round compares modes measured minutes apart at most
    return statistics.median(float(by[m][k][col]) / float(by["off"][k][col]) for k in rounds)
print(f"\n{len(rounds)} rounds ({sys.argv[1]}); 'vs off' is the median of the per-round ratios:")
print("| tracing | req/s (median) | vs off | p99 ms (median) | vs off | sidecar CPU µs/request | vs off |")
print("|---|---|---|---|---|---|---|")
for m in modes:
    label = m if m.startswith("off") else m + "% sampled"
    print(f"| {label} | {med(m, 'requests_per_s'):,.0f} | {ratio(m, 'requests_per_s'):.3f} | {med(m, 'p99_ms'):.2f} "
          f"| {ratio(m, 'p99_ms'):.2f} | {med(m, 'cpu_us_per_request'):.1f} | {ratio(m, 'cpu_us_per_request'):.3f} |")
PY
