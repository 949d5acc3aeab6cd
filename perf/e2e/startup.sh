#!/usr/bin/env bash
# Start-up to /readyz of a callee's sidecar (mTLS inbound, the benchmark's B), cold, pinned like
# run.sh: with the production flags and the JDK's default CDS archive, with an application CDS
# archive (AppCDS) made by a training run, and, for reference, AppCDS with C1 only.
#
#   perf/e2e/startup.sh            RUNS=5 per setting; prints CSV blocks and the medians
#
# The training run starts a sidecar with -XX:ArchiveClassesAtExit, serves one mTLS request and a
# metrics scrape, and stops (SIGTERM), which writes the archive. An image build would do the same
# once and ship the archive beside the jar (it is only valid for that jar and that JDK).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=perf/e2e/lib.sh
source "$here/perf/e2e/lib.sh"
runs="${RUNS:-5}"
need_tools curl:curl nginx:nginx-light
build_ward
work="$(mktemp -d /tmp/ward-startup.XXXXXX)"
trap cleanup EXIT
pin_setup
mint_pki "$work"
start_upstream "$work"
start_ward_pair "$work" ward "$(production_java_opts)"   # writes ward/b.yaml, which measure_startup starts
base="$(production_java_opts)"

port=$(free_port); admin=$(free_port)
sed -e "s/^  listen: .*/  listen: 127.0.0.1:$port/" -e "s/^admin: .*/admin: { listen: 127.0.0.1:$admin }/" \
  "$work/ward/b.yaml" >"$work/train.yaml"
# shellcheck disable=SC2086
java $base -XX:ArchiveClassesAtExit="$work/ward.jsa" -jar "$jar" proxy --config "$work/train.yaml" >"$work/train.log" 2>&1 &
train=$!
wait_http "http://127.0.0.1:$admin/readyz" "training sidecar (log: $work/train.log)"
curl -fsS -o /dev/null -k --cert "$work/frontend/tls.crt" --key "$work/frontend/tls.key" "https://127.0.0.1:$port/20"
curl -fsS -o /dev/null "http://127.0.0.1:$admin/metrics"
kill "$train"; wait "$train" 2>/dev/null || true
[ -s "$work/ward.jsa" ] || { echo "startup.sh: the training run wrote no archive; see $work/train.log" >&2; exit 1; }
echo "AppCDS archive: $(( $(stat -c %s "$work/ward.jsa") / 1024 / 1024 )) MiB"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for setting in default appcds appcds-c1; do
  case "$setting" in
    default) opts="$base" ;;
    appcds) opts="$base -XX:SharedArchiveFile=$work/ward.jsa" ;;
    appcds-c1) opts="$base -XX:SharedArchiveFile=$work/ward.jsa -XX:TieredStopAtLevel=1" ;;
  esac
  out="$(measure_startup "$work" "$opts" "$runs")"
  echo "$setting:"; echo "$out"
  echo "$setting: median $(tail -n +2 <<<"$out" | cut -d, -f2 | median) ms to ready, RSS $(( $(tail -n +2 <<<"$out" | cut -d, -f3 | median) / 1024 )) MiB"
done
