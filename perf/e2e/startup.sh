#!/usr/bin/env bash
# Start-up to /readyz of a callee's sidecar (mTLS inbound, the benchmark's B), cold, pinned like
# run.sh: with the production flags and an application CDS archive (AppCDS, as an image should ship;
# `cds_archive` in lib.sh makes it with a training run of `ward demo`) and the native libraries
# unpacked next to it (`native_libs`), and for comparison without the archive, and with the archive
# and C1 only.
#
#   perf/e2e/startup.sh            RUNS=5 per setting; prints CSV blocks and the medians
#   SETTINGS="appcds no-appcds appcds-c1" (default), or any of them, or appcds-dynamic (the dynamic
#   archive, -XX:ArchiveClassesAtExit, used until 2026-12-04) or appcds-jar-natives (Netty unpacks its
#   native libraries from the jar at every start, as until 2026-12-04); EXTRA_OPTS: more JVM flags for all
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

cds="$(cds_archive "$work")"
echo "AppCDS archive: $(( $(stat -c %s "${cds#-XX:SharedArchiveFile=}") / 1024 / 1024 )) MiB"
natives="$(native_libs "$work")"
dynamic="" # made the first time a setting asks for it

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for setting in ${SETTINGS:-appcds no-appcds appcds-c1}; do
  case "$setting" in
    appcds) opts="$base $cds $natives" ;;
    no-appcds) opts="$base $natives" ;;
    appcds-c1) opts="$base $cds $natives -XX:TieredStopAtLevel=1" ;;
    appcds-dynamic) [ -n "$dynamic" ] || dynamic="$(cds_archive_dynamic "$work")"; opts="$base $dynamic $natives" ;;
    appcds-jar-natives) opts="$base $cds" ;;
    *) echo "startup.sh: unknown setting $setting (appcds, no-appcds, appcds-c1, appcds-dynamic, appcds-jar-natives)" >&2; exit 2 ;;
  esac
  opts="$opts ${EXTRA_OPTS:-}"
  out="$(measure_startup "$work" "$opts" "$runs")"
  echo "$setting:"; echo "$out"
  echo "$setting: median $(tail -n +2 <<<"$out" | cut -d, -f2 | median) ms to ready, RSS $(( $(tail -n +2 <<<"$out" | cut -d, -f3 | median) / 1024 )) MiB"
done
