#!/usr/bin/env bash
# The end-to-end benchmark: the same two-hop mTLS sidecar job done by Ward, HAProxy and nginx,
# beside the upstream called directly, on this machine, in one run, reported as ratios.
#
#   perf/e2e/run.sh                 the full run (about 25-30 minutes on 2 cores)
#   QUICK=1 perf/e2e/run.sh         a short run to check the harness (numbers not meaningful)
#
# Each proxy is a pair of processes: A (the caller's sidecar: plain HTTP in, mTLS out) and B
# (the callee's sidecar: mTLS in, client certificate required, plain HTTP to the app). The two
# hops between them use TLS 1.3 with certificates from one trust domain minted by `ward certs`;
# every client side verifies the server against the CA (HAProxy and nginx by DNS name, Ward by
# SPIFFE id) and every server side requires a client certificate. Every proxy keeps connections
# alive to the next hop. Ward speaks HTTP/2 between its sidecars, HAProxy and nginx HTTP/1.1
# (each proxy's usual setup).
#
# Settings (environment):
#   PROXIES="direct ward haproxy nginx" (add ward-h1: Ward with HTTP/1.1 between its sidecars, as HAProxy and nginx)   CONCURRENCY="1 16 64"   BODIES="20 16384" (response bytes)
#   DURATION=10 (s per cell)  REPEATS=3  WARMUP=120 (s of load per proxy before measuring; the JVM's
#   JIT needs it, the others get the same; Ward then gets more, in 10 s steps, until its JIT is done,
#   up to WARMUP_MAX=240)  WORKERS=1 (threads per proxy process)
#   PIN=1: proxies on CPU 0, wrk and the upstream on CPU 1 (with 2 or more CPUs)
#   WARD_JAVA_OPTS: the sidecars' JVM flags (default: the production flags of perf/README.md and an
#                   AppCDS archive made by a training run and the native libraries unpacked, as an image should ship)
#   H2=1 (default): also load Ward with h2load over HTTP/2 (h2c to the outbound listener), one stream per connection
#   OUT=perf/results: where e2e-<date>.{csv,md,png} go (e2e-<date>-2... for a day's later runs)
#
# Installs what it needs with apt (haproxy, nginx-light, wrk, nghttp2-client) when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=perf/e2e/lib.sh
source "$here/perf/e2e/lib.sh"

if [ "${QUICK:-0}" = 1 ]; then
  : "${DURATION:=2}" "${REPEATS:=1}" "${WARMUP:=5}" "${WARMUP_MAX:=5}" "${CONCURRENCY:=1 16}" "${BODIES:=20}"
fi
proxies=(${PROXIES:-direct ward haproxy nginx})
concurrency=(${CONCURRENCY:-1 16 64})
bodies=(${BODIES:-20 16384})
duration="${DURATION:-10}"; repeats="${REPEATS:-3}"; warmup="${WARMUP:-120}"; workers="${WORKERS:-1}"
out_dir="${OUT:-$here/perf/results}"

need_tools wrk:wrk nginx:nginx-light haproxy:haproxy h2load:nghttp2-client curl:curl
build_ward
report_cp="$(build_report)"

work="$(mktemp -d /tmp/ward-e2e.XXXXXX)"
trap cleanup EXIT
pin_setup
# Ward runs as an image of it should: the production flags, an AppCDS archive made by a training run
# and the native libraries unpacked. (Each on its own line, so that set -e stops the run if one fails.)
ward_java_opts="${WARD_JAVA_OPTS:-}"
if [ -z "$ward_java_opts" ]; then
  cds="$(cds_archive "$work")"
  natives="$(native_libs "$work")"
  ward_java_opts="$(production_java_opts) $cds $natives"
fi

mint_pki "$work"
start_upstream "$work"                      # sets upstream_port
for proxy in "${proxies[@]}"; do
  case "$proxy" in
    direct) entry[direct]="$upstream_port" ;;
    ward) start_ward_pair "$work" ward "$ward_java_opts" ;;
    ward-h1) WARD_A_UPSTREAM="protocol: http1" start_ward_pair "$work" ward-h1 "$ward_java_opts" ;;
    haproxy) start_haproxy_pair "$work" ;;
    nginx) start_nginx_pair "$work" ;;
    *) echo "run.sh: unknown proxy $proxy (direct, ward, ward-h1, haproxy, nginx)" >&2; exit 2 ;;
  esac
done
for proxy in "${proxies[@]}"; do
  [ "$proxy" = direct ] && continue
  idle_rss[$proxy]="$(rss_kib "${entry[pid_a_$proxy]}") $(rss_kib "${entry[pid_b_$proxy]}")"
done

echo "warming up: ${warmup} s of load per proxy, not counted (Ward's JVMs: then on until the JIT is done)..." >&2
for proxy in "${proxies[@]}"; do
  jvms=(); case "$proxy" in ward*) jvms=("${entry[pid_a_$proxy]}" "${entry[pid_b_$proxy]}") ;; esac
  took="$(warm_up "http://127.0.0.1:${entry[$proxy]}/${bodies[0]}" "$warmup" 64 ${jvms[@]+"${jvms[@]}"})"
  echo "  $proxy: ${took} s" >&2
done

# e2e-DATE, or e2e-DATE-2, -3... when a run of the same day is already there (never overwritten).
date="$(date -u +%Y-%m-%d)"; name="e2e-$date"; k=2
mkdir -p "$out_dir"
while [ -e "$out_dir/$name.csv" ]; do name="e2e-$date-$k"; k=$((k + 1)); done
csv="$out_dir/$name.csv"
echo "proxy,protocol,body_bytes,concurrency,repeat,requests_per_s,p50_ms,p99_ms,requests,cpu_s_a,cpu_s_b,rss_peak_kib_a,rss_peak_kib_b,errors" >"$csv"
n=${#proxies[@]}
for body in "${bodies[@]}"; do
  for c in "${concurrency[@]}"; do
    for r in $(seq 1 "$repeats"); do
      # Interleave the proxies and rotate who goes first, so machine noise hits them alike.
      for k in $(seq 0 $((n - 1))); do
        proxy="${proxies[$(( (r - 1 + k) % n ))]}"
        measure_wrk "$proxy" http1 "$body" "$c" "$r" >>"$csv"
      done
      if [ "${H2:-1}" = 1 ] && [ -n "${entry[ward]:-}" ]; then
        measure_h2load ward "$body" "$c" "$r" >>"$csv"
      fi
    done
  done
done

# Start-up to ready, and memory at rest, with the same flags.
startup_csv="$out_dir/$name-startup.csv"
if [ -n "${entry[ward]:-}" ]; then
  measure_startup "$work" "$ward_java_opts" 5 >"$startup_csv"
else
  rm -f "$startup_csv"
fi

{
  echo "date: $date"
  machine_description
  echo "ward_java_opts: $ward_java_opts"
  echo "settings: duration=${duration}s repeats=$repeats warmup=${warmup}s workers=$workers pinned=${pinned}"
  for proxy in "${proxies[@]}"; do
    [ "$proxy" = direct ] && continue
    echo "idle_rss_kib.$proxy: ${idle_rss[$proxy]}"
  done
} >"$out_dir/$name-machine.txt"

java -cp "$report_cp" dev.ward.perf.e2e.Report "$csv" "$startup_csv" "$out_dir/$name-machine.txt" \
  "$out_dir/$name.md" "$out_dir/$name.png"
cat "$out_dir/$name.md"
