#!/usr/bin/env bash
# What a feature or a JVM flag costs: several Ward pairs (A outbound -> mTLS h2 -> B inbound ->
# upstream), one per variant, all started up front and loaded in interleaved rounds (each round
# starts with the next variant), reported against the first variant.
#
#   perf/e2e/compare.sh [VARIANT ...]           default: base tracing-1 tracing-100 authz-100 no-breaker
#
# Variants:
#   base          production JVM flags (perf/README.md), access log off, no tracing, `inbound.allow`
#   base-b        the same again: how much two identical pairs differ (the noise floor)
#   traceparent   tracing off, and the caller sends a traceparent that both hops pass on (what
#                 carrying the header costs, without the SDK)
#   header        tracing off, and the caller sends one header more than base (55 characters, as
#                 a traceparent): what one more header costs both hops, as tracing's adds one
#   tracing-0     tracing on, sampling nothing (the SDK on the path, no span recorded)
#   tracing-1     tracing sampled at 1%, spans exported as Zipkin JSON to a sink that discards them
#   tracing-100   the same at 100% (any tracing-N: N per cent, e.g. tracing-0.1)
#   authz-100     a policy of 100 rules, the request matching the last one
#   token         a policy whose one rule requires a bearer token (RS256, a JWKS file), and every
#                 request carrying the same valid token: verified once, then from the cache, with
#                 its sub and iss passed to the app as headers
#   no-breaker    the upstream's circuit breaker (and endpoint ejection) off
#   h1            HTTP/1.1 between the sidecars (a pool of keep-alive connections, as HAProxy and
#                 nginx), instead of HTTP/2 streams on one connection
#   access-log    the access log on, for every request (to a file)
#   epoll, nio, io_uring
#                 both sidecars on that socket transport (base takes `auto`: epoll)
#   NAME          any other name with OPTS_NAME set: base, with those JVM flags instead
#                 (e.g. OPTS_g1="-XX:+UseG1GC -Xmx64m" perf/e2e/compare.sh base g1)
#   NAME          with JAVA_NAME set: base, run by that java (another JDK, e.g.
#                 JAVA_jdk25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java), with OPTS_NAME's flags if set
#   NAME          with JAR_NAME set: base, run from that jar (another build, e.g. the commit before a
#                 change, built in a git worktree), with OPTS_NAME's flags if set
#                 (e.g. JAR_before=/tmp/before/proxy/target/ward.jar perf/e2e/compare.sh base before)
#   VARIANT@NAME  a variant above with the JVM flags of OPTS_NAME instead of the production ones
#                 (e.g. OPTS_d1="$(production_java_opts) -Dotel.bsp.schedule.delay=1000" ... tracing-1 tracing-1@d1),
#                 or run by JAVA_NAME's java, or from JAR_NAME's jar (with OPTS_NAME's flags if set too), e.g.
#                 JAR_before=/tmp/before.jar perf/e2e/compare.sh base tracing-1@before tracing-1
#
# Settings: PAIRS=1 (pairs per variant: two JVMs with the same flags can differ by several per cent,
# since each compiles the hot path its own way; a round's value for a variant is the mean over its
# pairs) BODY=20 (response bytes: 20 or 16384) ROUNDS=8 SECONDS_PER_ROUND=6 CONNECTIONS=32
# WARMUP=120 (s of load per pair first, then on in 10 s steps until the JIT is done, up to
# WARMUP_MAX=240; the warm-up ends with WARM_ENDS=4 runs of 3 s that stop as a round stops), PIN=1.
# Results: CSV=perf/results/compare-<date>.csv (every round) and a Markdown summary on stdout
# (perf/e2e/compare_summary.py, which also reads an old CSV again): median req/s, p99 and sidecar
# CPU per request, the median of the per-round ratios to the first variant and, for req/s, its 95%
# bootstrap interval (single rounds move by up to 2x here: many short rounds narrow it best);
# on stderr, each sidecar's JIT, GC and CPU by thread kind (event loop, compiler, VM thread) in the rounds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=perf/e2e/lib.sh
source "$here/perf/e2e/lib.sh"

variants=("$@"); [ ${#variants[@]} -eq 0 ] && variants=(base tracing-1 tracing-100 authz-100 no-breaker)
body="${BODY:-20}"; rounds="${ROUNDS:-8}"; npairs="${PAIRS:-1}"; secs="${SECONDS_PER_ROUND:-6}"; conns="${CONNECTIONS:-32}"; warmup="${WARMUP:-120}"
base_opts="${WARD_JAVA_OPTS:-$(production_java_opts)}"

need_tools wrk:wrk nginx:nginx-light curl:curl
build_ward
this_jar="$jar"
work="$(mktemp -d /tmp/ward-compare.XXXXXX)"
trap cleanup EXIT
pin_setup
mint_pki "$work"
start_upstream "$work"

policy_100() { # 100 rules for the caller, on /svc0 ... /svc99; the benchmark calls /svc99/...
  local f="$1" i
  { echo "service: orders"; echo "rules:"
    for i in $(seq 0 99); do
      echo "  - { name: r$i, from: [spiffe://bench.ward.test/ns/bench/sa/frontend], methods: [GET], paths: [/svc$i/*] }"
    done; } >"$f"
}

# token_policy FILE: one rule for the caller that requires a bearer token, from an issuer whose
# key (RSA 2048, RS256) is minted here with openssl into FILE's directory as jwks.json, and a
# token of that issuer for the policy's audience, valid for a day, as its file token. Every request
# sends the same token, as a caller does for its token's lifetime: the sidecar verifies it once
# and answers the rest from its cache (the JMH TokenVerificationBenchmark measures both).
token_policy() {
  local f="$1" d
  d="$(dirname "$f")"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/jwt.key" 2>/dev/null
  python3 - "$d" >"$d/token" <<'PY'
import base64, json, subprocess, sys, time
d = sys.argv[1]
def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
modulus = subprocess.check_output(["openssl", "rsa", "-in", d + "/jwt.key", "-noout", "-modulus"]).decode().strip()
n = bytes.fromhex(modulus.split("=", 1)[1])
with open(d + "/jwks.json", "w") as f:
    json.dump({"keys": [{"kty": "RSA", "kid": "bench", "use": "sig", "alg": "RS256", "n": b64(n), "e": "AQAB"}]}, f)
now = int(time.time())
head = b64(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
body = b64(json.dumps({"iss": "https://auth.bench.ward.test", "aud": "orders", "sub": "bench-user",
                       "iat": now, "exp": now + 86400}).encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", d + "/jwt.key"], input=(head + "." + body).encode(),
                     capture_output=True, check=True).stdout
print(head + "." + body + "." + b64(sig))
PY
  cat >"$f" <<YAML
service: orders
tokens:
  - { issuer: https://auth.bench.ward.test, jwks: { file: jwks.json }, audiences: [orders], algorithms: [RS256] }
rules:
  - { name: frontend, from: [spiffe://bench.ward.test/ns/bench/sa/frontend], methods: [GET], paths: ["/*"], token: required }
YAML
}

declare -A path hdr
pairs=()   # every pair: VARIANT.K for K in 1..PAIRS
configure() { # sets opts, path, hdr and the WARD_* settings of variant $1 (VARIANT or VARIANT@FLAGS)
  local full="$1" v="${1%@*}" ratio
  opts="$base_opts"; path[$full]="/$body"; hdr[$full]="X-Bench: 1"   # request headers, one per line: base sends one; traceparent's is that
  WARD_EXTRA=""; WARD_B_EXTRA=""; WARD_B_ALLOW=""; WARD_A_UPSTREAM=""; WARD_ACCESS_LOG=off; vjar="$this_jar"; vjava=java
  case "$v" in
    base|base-b) ;;
    traceparent) hdr[$full]="traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" ;;
    header) hdr[$full]="X-Bench: 1"$'\n'"x-extra: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" ;;
    tracing-[0-9]*)
      ratio="$(awk -v p="${v#tracing-}" 'BEGIN { print p / 100 }')"
      WARD_EXTRA="tracing: { exporter: zipkin, endpoint: http://127.0.0.1:$sink_port, sampling: $ratio }" ;;
    authz-100)
      policy_100 "$work/policy-100.yaml"
      WARD_B_ALLOW=none; WARD_B_EXTRA="policy: { file: $work/policy-100.yaml }"; path[$full]="/svc99/20" ;;
    token)
      # One key and token for all of the variant's pairs (their sidecars watch the same JWKS file).
      [ -f "$work/token/policy.yaml" ] || { mkdir -p "$work/token" && token_policy "$work/token/policy.yaml"; }
      WARD_B_ALLOW=none; WARD_B_EXTRA="policy: { file: $work/token/policy.yaml }"
      hdr[$full]="X-Bench: 1"$'\n'"Authorization: Bearer $(cat "$work/token/token")" ;;
    no-breaker) WARD_A_UPSTREAM="circuitBreaker: { enabled: false }" ;;
    h1) WARD_A_UPSTREAM="protocol: http1" ;;
    epoll|nio|io_uring) WARD_EXTRA="transport: $v" ;;
    access-log) WARD_ACCESS_LOG=all ;;
    *) build_of "$v" || opts="$(flags_of "$v")" ;;
  esac
  if [ "$full" != "$v" ]; then # VARIANT@NAME: NAME's jar (JAR_NAME) and/or flags (OPTS_NAME)
    local at="${full##*@}"
    build_of "$at" || opts="$(flags_of "$at")"
  fi
}
setting_of() { # the value of PREFIX_NAME ($1_$2, NAME's other characters as _), or nothing
  local var="$1_${2//[^A-Za-z0-9_]/_}"
  echo "${!var:-}"
}
build_of() { # NAME's jar (JAR_NAME) and/or java (JAVA_NAME), with OPTS_NAME's flags if set; false if neither is set
  local j="$(setting_of JAR "$1")" k="$(setting_of JAVA "$1")" o="$(setting_of OPTS "$1")"
  [ -n "$j$k" ] || return 1
  vjar="${j:-$this_jar}"; vjava="${k:-java}"; [ -z "$o" ] || opts="$o"
}
flags_of() { # the JVM flags OPTS_$1 names
  local o; o="$(setting_of OPTS "$1")"
  [ -n "$o" ] || { echo "compare.sh: unknown variant $1 (and no OPTS_${1//[^A-Za-z0-9_]/_} set); see the header of $0" >&2; exit 2; }
  echo "$o"
}
# Pairs start interleaved (base.1, tracing-1.1, base.2, tracing-1.2...), and are warmed and
# measured in that order: a variant whose pairs all started last measured up to 4% slower than
# the same variant started first (perf/README.md, Tracing).
for k in $(seq 1 "$npairs"); do
  for v in "${variants[@]}"; do
    configure "$v"
    jar="$vjar"; java_bin="$vjava"; start_ward_pair "$work" "$v.$k" "$opts"; jar="$this_jar"; java_bin=java
    header_args cargs "${hdr[$v]}"   # as the rounds send it (the token variant's is refused without its token)
    curl -fs -o /dev/null ${cargs[@]+"${cargs[@]}"} "http://127.0.0.1:${entry[$v.$k]}${path[$v]}" \
      || { echo "compare.sh: variant $v does not answer ${path[$v]} with 200; logs in $work/$v.$k" >&2; exit 1; }
    pairs+=("$v.$k")
  done
done

echo "warming up each pair (at least ${warmup} s, then until the JIT is done: nothing is compared before)..." >&2
for p in "${pairs[@]}"; do
  took="$(WARM_HEADER="${hdr[${p%.*}]}" warm_up "http://127.0.0.1:${entry[$p]}${path[${p%.*}]}" "$warmup" "$conns" "${entry[pid_a_$p]}" "${entry[pid_b_$p]}")"
  echo "  $p: ${took} s of load; JIT time A $(jit_seconds "${entry[pid_a_$p]}") s, B $(jit_seconds "${entry[pid_b_$p]}") s" >&2
done

declare -A jit0 gc0 thr reqs
for p in "${pairs[@]}"; do
  thr[a_$p]=""; thr[b_$p]=""; reqs[$p]=0
  jit0[a_$p]="$(jit_seconds "${entry[pid_a_$p]}")"; jit0[b_$p]="$(jit_seconds "${entry[pid_b_$p]}")"
  gc0[a_$p]="$(gc_counts "${entry[pid_a_$p]}")"; gc0[b_$p]="$(gc_counts "${entry[pid_b_$p]}")"
done

mkdir -p "$here/perf/results"
csv="${CSV:-$here/perf/results/compare-$(date -u +%Y-%m-%d).csv}"
echo "round,variant,pair,requests_per_s,p50_ms,p99_ms,cpu_us_per_request,rss_peak_kib_a,rss_peak_kib_b,errors" >"$csv"
n=${#pairs[@]}
for r in $(seq 1 "$rounds"); do
  for i in $(seq 0 $((n - 1))); do
    p="${pairs[$(( (r - 1 + i) % n ))]}"; v="${p%.*}"
    ta="$(thread_ticks "${entry[pid_a_$p]}")"; tb="$(thread_ticks "${entry[pid_b_$p]}")"
    pair_begin "$p"
    header_args hargs "${hdr[$v]}"
    out="$("${pin_load[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "${hargs[@]}" "http://127.0.0.1:${entry[$p]}${path[$v]}")"
    IFS=, read -r cpu_a cpu_b rss_a rss_b <<<"$(pair_end "$p")"
    thr[a_$p]="$(ticks_add "${thr[a_$p]}" "$ta" "$(thread_ticks "${entry[pid_a_$p]}")")"
    thr[b_$p]="$(ticks_add "${thr[b_$p]}" "$tb" "$(thread_ticks "${entry[pid_b_$p]}")")"
    parse_wrk "$out"
    reqs[$p]=$(( ${reqs[$p]} + total ))
    cpu_us="$(awk -v a="$cpu_a" -v b="$cpu_b" -v n="$total" 'BEGIN { printf "%.1f", (a + b) * 1e6 / n }')"
    echo "$r,$v,${p##*.},$rps,$p50,$p99,$cpu_us,$rss_a,$rss_b,$errs" >>"$csv"
    echo "round $r  $p: $rps req/s  p50 ${p50} ms  p99 ${p99} ms  sidecar CPU ${cpu_us} us/request  peak RSS $((rss_a / 1024))/$((rss_b / 1024)) MiB  errors $errs" >&2
  done
done
# Compilation during the rounds takes the core from the event loop and counts in the sidecar CPU:
# a variant that is still compiling measures its warm-up, not its steady state.
echo "JIT during the rounds (s, A/B):" >&2
for p in "${pairs[@]}"; do
  awk -v p="$p" -v a0="${jit0[a_$p]:-0}" -v a1="$(jit_seconds "${entry[pid_a_$p]}")" \
      -v b0="${jit0[b_$p]:-0}" -v b1="$(jit_seconds "${entry[pid_b_$p]}")" 'BEGIN { printf "  %s: %.2f/%.2f\n", p, a1 - a0, b1 - b0 }' >&2
done
# Collections during the rounds: a variant that keeps more alive (spans queued for export) copies
# more in each young collection and fills the old generation sooner. The heap each request allocates,
# end to end (sockets, TLS, HTTP/2 framing included, which JMH's pipelines leave out): every young
# collection empties a full eden, so allocated = collections x eden + what eden gained besides.
echo "GC during the rounds (A | B: young collections, their ms; full collections, their ms; heap allocated per request):" >&2
for p in "${pairs[@]}"; do
  line="  $p:"
  for s in a b; do
    line="$line $(awk -v before="${gc0[${s}_$p]:-0 0 0 0 0 0}" -v after="$(gc_counts "${entry[pid_${s}_$p]}")" -v n="${reqs[$p]}" 'BEGIN {
      split(before, x, " "); split(after, y, " ")
      printf "%d, %.0f ms; %d, %.0f ms; %.2f KiB", y[1] - x[1], (y[2] - x[2]) * 1000, y[3] - x[3], (y[4] - x[4]) * 1000,
        ((y[1] - x[1]) * y[5] + y[6] - x[6]) / (n > 0 ? n : 1) }')"
    [ "$s" = a ] && line="$line |"
  done
  echo "$line" >&2
done
# Where each sidecar's CPU went during its own rounds, by thread kind, in µs per request (A and B
# apart): an event loop that is slower per request, or a compiler or collector that takes the core.
# Only the pair's own rounds count: a sidecar's background threads (the span exporter, the heap
# trimmer, the JIT finishing a compilation) also run while the other pairs are measured, and counting
# that against this pair's requests overstated them by the number of pairs (until 2026-12-04).
echo "Sidecar CPU during its own rounds by thread kind (µs per request):" >&2
for p in "${pairs[@]}"; do
  python3 - "$p" "${reqs[$p]}" "$(getconf CLK_TCK)" "${thr[a_$p]}" "${thr[b_$p]}" >&2 <<'PY'
import sys
p, n, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def parse(s):
    return {k: int(v) for k, v in (kv.rsplit("=", 1) for kv in filter(None, s.split(";")))}
for side, ticks in (("A", sys.argv[4]), ("B", sys.argv[5])):
    delta = {k: v for k, v in parse(ticks).items() if v > 0}
    us = lambda t: t / hz * 1e6 / max(n, 1)
    print(f"  {p} {side}: {us(sum(delta.values())):.1f} = "
          + ", ".join(f"{k} {us(v):.1f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1])))
PY
done
for p in "${pairs[@]}"; do
  case "${p%.*}" in tracing-0) ;; tracing-*)
    curl -fs "http://127.0.0.1:${entry[admin_$p]}/metrics" | grep -E '^ward_tracing_spans_(exported|dropped)_total' | sed "s/^/  $p: /" >&2 || true ;;
  esac
done

python3 "$here/perf/e2e/compare_summary.py" "$csv" "${variants[@]}"
