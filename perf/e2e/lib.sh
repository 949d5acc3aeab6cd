# Shared pieces of the end-to-end benchmarks (run.sh, features.sh). Sourced, not run.
# Expects: $here (the repository root). Keeps state in the associative array `entry`:
#   entry[<name>] = the port a client calls, entry[pid_a_<name>] / entry[pid_b_<name>] = the pids.

declare -A entry idle_rss
pids=()
pin_sidecars=(); pin_load=(); pinned=no

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$port_state"
}

# The JVM flags a sidecar runs with in production (perf/README.md says why each one).
production_java_opts() {
  echo "-XX:+UseParallelGC -XX:ParallelGCThreads=1 -Xms48m -Xmx48m -Xmn32m -XX:MaxDirectMemorySize=32m -Xss256k -XX:ReservedCodeCacheSize=32m -XX:MaxMetaspaceSize=48m -XX:CICompilerCount=2 -XX:CompileThresholdScaling=5 -XX:TrimNativeHeapInterval=1000 -XX:+UseTransparentHugePages -XX:+ExitOnOutOfMemoryError"
}

# native_libs DIR: unpacks the jar's native libraries (BoringSSL through netty-tcnative, epoll,
# io_uring) into DIR/META-INF/native, the way an image should ship them, and prints the flag that
# points the JVM there. Netty tries java.library.path before its own copy in the jar; without it,
# every start inflates the 3 MiB BoringSSL library and the transport's into a new temporary file,
# loads it and deletes it (perf/README.md, Start-up). Made from the jar being run, like the archive:
# a library from another Netty version must not be loaded.
native_libs() {
  local entries=() tool
  tool="$(command -v jar || echo "$(dirname "$(readlink -f "$(command -v java)")")/jar")" # the JDK's jar tool
  mapfile -t entries < <("$tool" tf "$jar" | grep -E '^META-INF/native/lib[^/]*\.so$')
  if [ ${#entries[@]} -eq 0 ] || ! (cd "$1" && "$tool" xf "$jar" "${entries[@]}"); then
    echo "native_libs: cannot unpack the native libraries from $jar" >&2; exit 1
  fi
  echo "-Djava.library.path=$1/META-INF/native"
}

# cds_archive DIR: makes an application class-data-sharing (AppCDS) archive of Ward's classes the
# way an image build should make it, with a training run of `ward demo` (three sidecars, mTLS both
# ways, HTTP/1.1 and HTTP/2, a denied call, metrics) under the production flags, and prints the flag
# that uses it. The archive holds the classes already parsed, verified and linked, so a sidecar
# started with it skips that (perf/README.md, Start-up). It is a static archive (the training run
# lists the classes it loads, -Xshare:dump archives them with the JDK's own): JDK 17's dynamic archive
# (-XX:ArchiveClassesAtExit, cds_archive_dynamic) leaves out classes compiled for Java 5, and
# picocli's 175 are, so they were read from the jar and verified at every start.
# It is only valid for the jar and the JDK it was made with: the JVM checks both and ignores it otherwise.
cds_archive() {
  local list="$1/ward.classlist" out="$1/ward.jsa"
  # shellcheck disable=SC2046
  cds_step "$list" "$1/cds-training.log" "the AppCDS training run (ward demo)" \
    java $(production_java_opts) -XX:DumpLoadedClassList="$list" -jar "$jar" demo
  # shellcheck disable=SC2046
  cds_step "$out" "$1/cds-dump.log" "the AppCDS dump" \
    java $(production_java_opts) -Xshare:dump -XX:SharedClassListFile="$list" -XX:SharedArchiveFile="$out" -jar "$jar"
  echo "-XX:SharedArchiveFile=$out"
}

# cds_archive_dynamic DIR: the dynamic archive cds_archive made until 2026-12-04 (for comparison).
cds_archive_dynamic() {
  local out="$1/ward-dynamic.jsa"
  # shellcheck disable=SC2046
  cds_step "$out" "$1/cds-dynamic-training.log" "the dynamic AppCDS training run (ward demo)" \
    java $(production_java_opts) -XX:ArchiveClassesAtExit="$out" -jar "$jar" demo
  echo "-XX:SharedArchiveFile=$out"
}

# cds_step FILE LOG WHAT CMD...: runs CMD with its output in LOG; stops the script, naming WHAT and
# LOG, if it fails or leaves FILE missing or empty.
cds_step() {
  local file="$1" log="$2" what="$3"
  shift 3
  if ! "$@" >"$log" 2>&1 || [ ! -s "$file" ]; then
    echo "$what failed; see $log" >&2; exit 1
  fi
}

# need_tools cmd:package ...: installs the missing ones with apt.
need_tools() {
  local missing=() t
  for t in "$@"; do command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]} (apt)..." >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the benchmark runs its own.
  $sudo pkill -x haproxy 2>/dev/null || true; $sudo pkill -x nginx 2>/dev/null || true
}

build_ward() {
  "$here/ward" --version >/dev/null    # builds proxy/target/ward.jar if missing or stale
  jar="$here/proxy/target/ward.jar"
}

# Prints the class path of the report generator (perf/target/benchmarks.jar), building it if needed.
build_report() {
  local bench="$here/perf/target/benchmarks.jar"
  if [ ! -f "$bench" ] || [ -n "$(find "$here/perf/src/main" -newer "$bench" -type f | head -n 1)" ]; then
    echo "building perf/target/benchmarks.jar..." >&2
    (cd "$here" && mvn -B -q -DskipTests -pl perf -am package >"${TMPDIR:-/tmp}/ward-perf-build.log" 2>&1) \
      || { echo "build failed; see ${TMPDIR:-/tmp}/ward-perf-build.log" >&2; exit 1; }
  fi
  echo "$bench"
}

# Proxies on CPU 0; the load generator and the upstream on CPU 1, so the load does not steal the
# proxies' CPU at random moments. Every proxy gets the same pinning.
pin_setup() {
  if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_sidecars=(taskset -c 0); pin_load=(taskset -c 1); pinned="proxies on CPU 0, load and upstream on CPU 1"
  fi
}

# free_port: a loopback port for a server to listen on. Taken below the kernel's ephemeral range, so
# that no outgoing connection (a running pair's, wrk's) takes it between now and the server's bind,
# and never the same twice in one run (the ports handed out are counted in $port_state). Port 0's
# pick, from inside the ephemeral range, once collided so: "bind(..) failed: Address already in use".
port_state="$(mktemp /tmp/ward-ports.XXXXXX)"
free_port() {
  python3 - "$port_state" <<'PY'
import random, socket, sys
state = sys.argv[1]
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
start, end = max(1024, low - 12000), low
text = open(state).read().strip()
port = int(text) + 1 if text else random.randrange(start, end - 2000)
while True:
    if port >= end:
        sys.exit("free_port: no free loopback port left below the ephemeral range")
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        break
    except OSError:
        port += 1
    finally:
        s.close()
open(state, "w").write(str(port))
print(port)
PY
}

wait_http() { # wait_http URL [what]
  local _
  for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "${2:-$1} did not become ready" >&2; exit 1
}

wait_port() { # wait_port PORT what
  local _
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "$2 is not listening on port $1" >&2; exit 1
}

# One trust domain for every proxy. The leaves carry a DNS name too, since HAProxy and nginx
# verify host names; Ward verifies the SPIFFE id.
mint_pki() {
  local w="$1" sa
  java -jar "$jar" certs ca --out "$w/ca" --trust-domain bench.ward.test >/dev/null
  for sa in frontend orders; do
    java -jar "$jar" certs issue --ca "$w/ca" --id "spiffe://bench.ward.test/ns/bench/sa/$sa" \
      --dns "$sa.bench.ward.test" --out "$w/$sa" >/dev/null
    cat "$w/$sa/tls.crt" "$w/$sa/tls.key" >"$w/$sa/combined.pem"   # HAProxy wants both in one file
  done
}

# The opening every nginx config here shares, up to inside `http {`: one process directory DIR
# for its pid, log and temp files.
nginx_head() {
  local d="$1"
  cat <<NGINX
worker_processes ${workers:-1};
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
NGINX
}

# The upstream app: nginx, one worker, on the load generator's CPU, serving /20 and /16384
# (response bodies of that many bytes) and /api/v2/spans (a span sink that discards).
start_upstream() {
  local w="$1"
  upstream_port=$(free_port); sink_port=$(free_port)
  mkdir -p "$w/www" "$w/upstream"
  chmod 755 "$w" "$w/www"   # nginx workers run as an unprivileged user when started as root
  printf 'hello from upstream\n' >"$w/www/20"
  mkdir -p "$w/www/svc99" && cp "$w/www/20" "$w/www/svc99/20"   # the path compare.sh's 100-rule policy allows
  head -c 16384 /dev/zero | tr '\0' 'w' >"$w/www/16384"
  { workers=1 nginx_head "$w/upstream"; cat <<NGINX
  server { listen 127.0.0.1:$upstream_port; keepalive_requests 10000000; keepalive_timeout 1800s;
           root $w/www; default_type text/plain; }
  server { listen 127.0.0.1:$sink_port; keepalive_requests 10000000; client_max_body_size 64m;
           location /api/v2/spans { client_body_in_single_buffer on; return 202; } }
}
NGINX
  } >"$w/upstream/nginx.conf"
  "${pin_load[@]}" nginx -c "$w/upstream/nginx.conf" -p "$w/upstream" -g 'daemon off;' &
  pids+=($!)
  wait_port "$upstream_port" "the upstream nginx"
}

# start_ward_pair WORK NAME JAVA_OPTS: Ward A (outbound) -> mTLS h2 -> Ward B (inbound) -> upstream,
# run by $java_bin (default: the java on the PATH).
# Variants through the environment (empty: the defaults below):
#   WARD_EXTRA: top-level YAML for both (e.g. tracing)    WARD_B_EXTRA: top-level YAML for B (a policy)
#   WARD_B_ALLOW: B's inbound.allow line ("none": no allow list, for a policy file)
#   WARD_A_UPSTREAM: extra keys of A's upstream map (e.g. "circuitBreaker: { enabled: false }")
#   WARD_ACCESS_LOG: off (default), all or errors; to a file in the pair's directory
start_ward_pair() {
  local w="$1" name="$2" opts="$3"
  local b_in b_admin a_up a_admin allow up_extra
  b_in=$(free_port); b_admin=$(free_port); a_up=$(free_port); a_admin=$(free_port)
  allow="  allow: [ spiffe://bench.ward.test/ns/bench/sa/frontend ]"
  [ "${WARD_B_ALLOW:-}" = none ] && allow=""
  # Pooled connections are kept for 30 min: a pair waits minutes for its turn (compare.sh starts
  # and warms every pair first), and a connection made again after an idle close runs code paths
  # the steady state never did (handshake, a fresh HTTP/2 stream map), which deoptimises C2's code
  # and halves throughput for the next seconds. The benchmark measures the steady state.
  up_extra=", timeouts: { idle: 30m }"; [ -n "${WARD_A_UPSTREAM:-}" ] && up_extra="$up_extra, ${WARD_A_UPSTREAM}"
  mkdir -p "$w/$name"
  cat >"$w/$name/b.yaml" <<YAML
identity: { cert: $w/orders/tls.crt, key: $w/orders/tls.key, bundle: $w/orders/ca.crt }
inbound:
  listen: 127.0.0.1:$b_in
  app: 127.0.0.1:$upstream_port
$allow
outbound: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:$b_admin }
accessLog: ${WARD_ACCESS_LOG:-off}
accessLogFile: $w/$name/b-access.log
auditLogFile: $w/$name/b-audit.log
workers: ${workers:-1}
limits: { idleTimeout: 30m }
${WARD_EXTRA:-}
${WARD_B_EXTRA:-}
YAML
  cat >"$w/$name/a.yaml" <<YAML
identity: { cert: $w/frontend/tls.crt, key: $w/frontend/tls.key, bundle: $w/frontend/ca.crt }
inbound: { enabled: false }
outbound:
  listen: 127.0.0.1:0
  upstreams:
    orders: { address: 127.0.0.1:$b_in, identity: spiffe://bench.ward.test/ns/bench/sa/orders, listen: 127.0.0.1:$a_up$up_extra }
admin: { listen: 127.0.0.1:$a_admin }
accessLog: ${WARD_ACCESS_LOG:-off}
accessLogFile: $w/$name/a-access.log
auditLogFile: $w/$name/a-audit.log
workers: ${workers:-1}
limits: { idleTimeout: 30m }
${WARD_EXTRA:-}
YAML
  # shellcheck disable=SC2086
  "${pin_sidecars[@]}" "${java_bin:-java}" $opts -jar "$jar" proxy --config "$w/$name/b.yaml" >"$w/$name/b.log" 2>&1 &
  pids+=($!); entry[pid_b_$name]=$!
  # shellcheck disable=SC2086
  "${pin_sidecars[@]}" "${java_bin:-java}" $opts -jar "$jar" proxy --config "$w/$name/a.yaml" >"$w/$name/a.log" 2>&1 &
  pids+=($!); entry[pid_a_$name]=$!
  wait_http "http://127.0.0.1:$b_admin/readyz" "Ward B ($name; log: $w/$name/b.log)"
  wait_http "http://127.0.0.1:$a_admin/readyz" "Ward A ($name; log: $w/$name/a.log)"
  entry[$name]="$a_up"; entry[admin_$name]="$a_admin"
}

# HAProxy as the same pair: nbthread = WORKERS, TLS 1.3, client certificate required on B,
# B verified by A against the CA and by name, keep-alive on both hops.
start_haproxy_pair() {
  local w="$1" a_port b_port
  a_port=$(free_port); b_port=$(free_port)
  mkdir -p "$w/haproxy"
  local common="global
  nbthread ${workers:-1}
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
  http-reuse always"
  cat >"$w/haproxy/b.cfg" <<CFG
$common
frontend mtls_in
  bind 127.0.0.1:$b_port ssl crt $w/orders/combined.pem ca-file $w/orders/ca.crt verify required alpn http/1.1
  default_backend app
backend app
  server app 127.0.0.1:$upstream_port
CFG
  cat >"$w/haproxy/a.cfg" <<CFG
$common
frontend app_out
  bind 127.0.0.1:$a_port
  default_backend orders
backend orders
  server orders 127.0.0.1:$b_port ssl crt $w/frontend/combined.pem ca-file $w/frontend/ca.crt verify required verifyhost orders.bench.ward.test sni str(orders.bench.ward.test) alpn http/1.1
CFG
  "${pin_sidecars[@]}" haproxy -db -f "$w/haproxy/b.cfg" >"$w/haproxy/b.log" 2>&1 &
  pids+=($!); entry[pid_b_haproxy]=$!
  "${pin_sidecars[@]}" haproxy -db -f "$w/haproxy/a.cfg" >"$w/haproxy/a.log" 2>&1 &
  pids+=($!); entry[pid_a_haproxy]=$!
  wait_port "$b_port" "HAProxy B (log: $w/haproxy/b.log)"; wait_port "$a_port" "HAProxy A (log: $w/haproxy/a.log)"
  entry[haproxy]="$a_port"
  curl -fs -o /dev/null "http://127.0.0.1:$a_port/20" || { echo "HAProxy pair does not answer; logs in $w/haproxy" >&2; exit 1; }
}

# nginx as the same pair: worker_processes = WORKERS, otherwise as HAProxy.
start_nginx_pair() {
  local w="$1" a_port b_port
  a_port=$(free_port); b_port=$(free_port)
  mkdir -p "$w/nginx-a" "$w/nginx-b"
  { nginx_head "$w/nginx-b"; cat <<NGINX
  upstream app { server 127.0.0.1:$upstream_port; keepalive 256; keepalive_requests 10000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:$b_port ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $w/orders/tls.crt; ssl_certificate_key $w/orders/tls.key;
    ssl_client_certificate $w/orders/ca.crt; ssl_verify_client on;
    keepalive_requests 10000000; keepalive_timeout 300s;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
  } >"$w/nginx-b/nginx.conf"
  { nginx_head "$w/nginx-a"; cat <<NGINX
  upstream orders { server 127.0.0.1:$b_port; keepalive 256; keepalive_requests 10000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:$a_port;
    keepalive_requests 10000000; keepalive_timeout 300s;
    location / {
      proxy_pass https://orders; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate $w/frontend/tls.crt; proxy_ssl_certificate_key $w/frontend/tls.key;
      proxy_ssl_trusted_certificate $w/frontend/ca.crt; proxy_ssl_verify on;
      proxy_ssl_name orders.bench.ward.test; proxy_ssl_server_name on; proxy_ssl_session_reuse on;
    }
  }
}
NGINX
  } >"$w/nginx-a/nginx.conf"
  "${pin_sidecars[@]}" nginx -c "$w/nginx-b/nginx.conf" -p "$w/nginx-b" -g 'daemon off;' &
  pids+=($!); entry[pid_b_nginx]=$!
  "${pin_sidecars[@]}" nginx -c "$w/nginx-a/nginx.conf" -p "$w/nginx-a" -g 'daemon off;' &
  pids+=($!); entry[pid_a_nginx]=$!
  wait_port "$b_port" "nginx B (log: $w/nginx-b/error.log)"; wait_port "$a_port" "nginx A (log: $w/nginx-a/error.log)"
  entry[nginx]="$a_port"
  curl -fs -o /dev/null "http://127.0.0.1:$a_port/20" || { echo "nginx pair does not answer; logs in $w/nginx-a, $w/nginx-b" >&2; exit 1; }
}

# Seconds a JVM has spent compiling (JIT), from jstat.
jit_seconds() { jstat -compiler "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }

# A JVM's collections so far, from jstat: "young_count young_s full_count full_s eden_kib eden_used_kib".
gc_counts() {
  jstat -gc "$1" 2>/dev/null | awk 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
    NR == 2 { print $c["YGC"], $c["YGCT"], $c["FGC"], $c["FGCT"], $c["EC"], $c["EU"] }'
}

# A JVM's CPU so far by thread kind (its threads' names without digits: the event loop, the C1 and
# C2 compilers, the VM thread, the GC thread...): "name=ticks;name=ticks;...".
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    awk '{ c = $0; sub(/^[0-9]+ \(/, "", c); sub(/\) .*$/, "", c); gsub(/[0-9]+/, "", c); gsub(/[ =;]/, "_", c)
           n = split($0, f, ") "); split(f[n], g, " "); print c, g[12] + g[13] }' "$t/stat" 2>/dev/null || true
  done | awk '{ s[$1] += $2 } END { for (k in s) printf "%s=%d;", k, s[k] }'
}

# ticks_add SUM BEFORE AFTER: SUM (thread_ticks' form, empty at first) plus what each thread kind
# used from BEFORE to AFTER (a kind whose threads exited in between counts nothing).
ticks_add() {
  awk -v sum="$1" -v before="$2" -v after="$3" 'BEGIN {
    n = split(sum, x, ";"); for (i = 1; i <= n; i++) if (split(x[i], kv, "=") == 2) s[kv[1]] += kv[2]
    n = split(before, x, ";"); for (i = 1; i <= n; i++) if (split(x[i], kv, "=") == 2) b[kv[1]] = kv[2]
    n = split(after, x, ";"); for (i = 1; i <= n; i++) if (split(x[i], kv, "=") == 2 && kv[2] > b[kv[1]]) s[kv[1]] += kv[2] - b[kv[1]]
    for (k in s) printf "%s=%d;", k, s[k] }'
}

# warm_up URL MIN_SECONDS CONNECTIONS [JVM_PID ...]: load through URL (not measured) for
# MIN_SECONDS, then WARM_ENDS (4) runs of 3 s that end as rounds do (below); then, for JVMs, on in
# 10 s windows until the JIT is done: every JVM compiled for under 0.25 s in the last window, or
# WARMUP_MAX (240) s of load in all (the ends count in it). A fixed warm-up is not
# enough: how long C2 takes depends on how much code the configuration runs (tracing on compiles
# about a fifth more methods) and on what else shares the core. Nor is a quiet JIT, alone: with
# the production flags' JIT thresholds ×5 (CompileThresholdScaling), a method that runs a few
# hundred times a second waits minutes in C1's profiling code while the compiler is idle, so the
# minimum itself is 120 s by default in run.sh and compare.sh (perf/README.md, JVM flags).
# Prints the seconds of load given.
# header_args ARRAY HEADERS: sets ARRAY to wrk's -H arguments for HEADERS (one per line; none if empty).
header_args() {
  local -n into="$1"; local h; into=()
  if [ -n "$2" ]; then while IFS= read -r h; do into+=(-H "$h"); done <<<"$2"; fi
}

warm_up() {
  local url="$1" spent="$2" conns="$3" p quiet; shift 3
  local hdr=(); header_args hdr "${WARM_HEADER:-}"   # the request headers to send, as the measurement will
  "${pin_load[@]}" wrk -t1 -c"$conns" -d"${spent}s" ${hdr[@]+"${hdr[@]}"} "$url" >/dev/null
  # Then short runs that end as a measured round ends: wrk closes its connections with requests in
  # flight, and the streams reset on the way are a path the steady state does not take. The first
  # few such ends throw away C2's code for the hottest methods (ProxyHandler's exchange, the HTTP/2
  # decoder) and it is compiled again; after WARM_ENDS (4) of them here, the rounds no longer start
  # with that recompilation in flight (perf/README.md, Tracing, twenty-first and twenty-second).
  local i
  for i in $(seq 1 "${WARM_ENDS:-4}"); do
    "${pin_load[@]}" wrk -t1 -c"$conns" -d3s ${hdr[@]+"${hdr[@]}"} "$url" >/dev/null
    spent=$((spent + 3))
  done
  local -A before=()
  while [ $# -gt 0 ] && [ "$spent" -lt "${WARMUP_MAX:-240}" ]; do
    for p in "$@"; do before[$p]="$(jit_seconds "$p")"; done
    "${pin_load[@]}" wrk -t1 -c"$conns" -d10s ${hdr[@]+"${hdr[@]}"} "$url" >/dev/null
    spent=$((spent + 10)); quiet=1
    for p in "$@"; do
      awk -v a="${before[$p]:-0}" -v b="$(jit_seconds "$p")" 'BEGIN { exit !(b - a < 0.25) }' || quiet=0
    done
    [ "$quiet" = 1 ] && break
  done
  echo "$spent"
}

# A process and its children (nginx's master and workers).
tree() { echo "$1"; pgrep -P "$1" 2>/dev/null || true; }

# CPU time (user + system, clock ticks) a process tree has used so far.
cpu_ticks() { local p t=0; for p in $(tree "$1"); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

# Resident memory (KiB) of a process tree: now (rss_kib) and the peak since reset_peak (peak_kib).
rss_kib() { local p t=0; for p in $(tree "$1"); do t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$t"; }
peak_kib() { local p t=0; for p in $(tree "$1"); do t=$((t + $(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$t"; }
reset_peak() { local p; for p in $(tree "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

hz="$(getconf CLK_TCK)"

# Resource use of a proxy pair around a command: sets before_* and prints the CSV tail after.
pair_begin() {
  local proxy="$1"
  if [ "$proxy" = direct ]; then return; fi
  reset_peak "${entry[pid_a_$proxy]}"; reset_peak "${entry[pid_b_$proxy]}"
  before_a="$(cpu_ticks "${entry[pid_a_$proxy]}")"; before_b="$(cpu_ticks "${entry[pid_b_$proxy]}")"
}
pair_end() { # prints cpu_s_a,cpu_s_b,rss_peak_kib_a,rss_peak_kib_b
  local proxy="$1"
  if [ "$proxy" = direct ]; then echo ",,,"; return; fi
  local after_a after_b
  after_a="$(cpu_ticks "${entry[pid_a_$proxy]}")"; after_b="$(cpu_ticks "${entry[pid_b_$proxy]}")"
  awk -v a=$((after_a - before_a)) -v b=$((after_b - before_b)) -v hz="$hz" \
      -v ra="$(peak_kib "${entry[pid_a_$proxy]}")" -v rb="$(peak_kib "${entry[pid_b_$proxy]}")" \
      'BEGIN { printf "%.2f,%.2f,%d,%d", a / hz, b / hz, ra, rb }'
}

# parse_wrk OUTPUT: sets total, rps, p50 and p99 (ms) and errs (non-2xx/3xx and socket errors) from
# the output of `wrk --latency`.
parse_wrk() {
  total="$(awk '/requests in/ { print $1 }' <<<"$1")"
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$1")"
  p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$1")")"
  p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$1")")"
  errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(/[^0-9 ]/, " "); for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }' <<<"$1")"
}

# measure_wrk PROXY PROTOCOL BODY CONCURRENCY REPEAT: one CSV row of run.sh's table.
measure_wrk() {
  local proxy="$1" protocol="$2" body="$3" c="$4" r="$5" out res
  pair_begin "$proxy"
  out="$("${pin_load[@]}" wrk -t1 -c"$c" -d"${duration}s" --latency "http://127.0.0.1:${entry[$proxy]}/$body")"
  res="$(pair_end "$proxy")"
  parse_wrk "$out"
  echo "$proxy,$protocol,$body,$c,$r,$rps,$p50,$p99,$total,$res,$errs"
  echo "  $proxy $protocol ${body} B c=$c #$r: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errs" >&2
}

# measure_h2load PROXY BODY CONCURRENCY REPEAT: the same over HTTP/2 (h2c, prior knowledge), one
# stream per connection, so the load has the same shape as wrk's. Percentiles from the request log.
measure_h2load() {
  local proxy="$1" body="$2" c="$3" r="$4" log out rps p50 p99 total errs res
  log="$(mktemp)"
  pair_begin "$proxy"
  out="$("${pin_load[@]}" h2load -t1 -c"$c" -m1 -D"$duration" --log-file="$log" "http://127.0.0.1:${entry[$proxy]}/$body")"
  res="$(pair_end "$proxy")"
  rps="$(awk '/^finished in/ { gsub(",", ""); print $4 }' <<<"$out")"
  total="$(wc -l <"$log")"
  read -r p50 p99 < <(cut -f3 "$log" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0"; exit }
      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1; printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
  errs="$(awk -F'\t' '$2 < 200 || $2 >= 400 { n++ } END { print n + 0 }' "$log")"
  rm -f "$log"
  echo "$proxy,http2,$body,$c,$r,$rps,$p50,$p99,$total,$res,$errs"
  echo "  $proxy http2 ${body} B c=$c #$r: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errs" >&2
}

# measure_startup WORK JAVA_OPTS N: N starts of an inbound sidecar, time from exec to /readyz
# answering 200, and its RSS once ready. Prints CSV.
measure_startup() {
  local w="$1" opts="$2" n="$3" i port admin start ready pid
  echo "run,startup_ms,rss_ready_kib"
  for i in $(seq 1 "$n"); do
    port=$(free_port); admin=$(free_port)
    sed -e "s/^  listen: .*/  listen: 127.0.0.1:$port/" -e "s/^admin: .*/admin: { listen: 127.0.0.1:$admin }/" \
      "$w/ward/b.yaml" >"$w/startup.yaml"
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "${pin_sidecars[@]}" java $opts -jar "$jar" proxy --config "$w/startup.yaml" >"$w/startup.log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || { echo "sidecar exited during start-up; see $w/startup.log" >&2; exit 1; }
      sleep 0.01
    done
    ready=$(date +%s%N)
    echo "$i,$(( (ready - start) / 1000000 )),$(rss_kib "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
}

machine_description() {
  echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
  echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "java: $(java -version 2>&1 | head -n 1)"
  echo "ward: $(java -jar "$jar" --version 2>/dev/null | tr '\n' ';')"
  echo "haproxy: $(haproxy -v 2>/dev/null | head -n 1)"
  echo "nginx: $(nginx -v 2>&1)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "h2load: $(h2load --version 2>&1 | head -n 1)"
}
