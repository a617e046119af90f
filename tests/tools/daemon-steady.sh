#!/usr/bin/env bash
# Watches the flanneld binary's memory over time against an embedded store: every STEP seconds, VmRSS and the
# runtime's own figures from /metrics (GC counts per generation, heap size per generation after the last GC).
# Runs in a private namespace (fln-steady-*) with a veth underlay; never touches the root namespace's interfaces,
# routes or firewall. The daemon is stopped (SIGTERM) and the namespace deleted at the end.
#
# usage: tests/tools/daemon-steady.sh FLANNELD STORE SECONDS [STEP]
#   FLANNELD  the binary (e.g. samples/Flanneld/bin/Release/net10.0/linux-x64/publish/flanneld)
#   STORE     an embedded store pre-filled with peers (see tests/tools/daemon-perf.sh), or "" for none
set -euo pipefail
bin=$1 store=$2 secs=$3 step=${4:-30}
source "$(dirname "$0")/daemon-ns.sh" fln-steady
if [[ -n $store ]]; then cp "$store" "$work/leases.db"; fi
start_daemon "$bin"
printf 'seconds\tVmRSS_kB\tVmHWM_kB\tGCs_gen0/1/2\theap_kB_gen0/1/2/loh/poh\tgc_committed_kB\n'
t=0
while (( t < secs )); do
  sleep "$step"
  t=$((t + step))
  m=$(curl -s "http://127.0.0.1:$port/metrics" || true)
  gcs=$(grep -E '^dotnet_gc_collections_total' <<<"$m" | awk '{printf "%s/", $2}' || true)
  heap=$(grep -E '^dotnet_gc_last_collection_heap_size_bytes' <<<"$m" | awk '{printf "%d/", $2/1024}' || true)
  committed=$(awk '/^dotnet_gc_last_collection_memory_committed_size_bytes/ {printf "%d", $2/1024}' <<<"$m" || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" \
    "$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")" "${gcs%/}" "${heap%/}" "$committed"
done
