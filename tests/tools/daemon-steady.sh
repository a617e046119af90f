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
ns=fln-steady-$$
work=$(mktemp -d /tmp/fln-steady-XXXX)
port=$((20000 + $$ % 20000))
cleanup() {
  if [[ -n ${pid:-} ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth0p
ip -n "$ns" addr add 198.18.0.1/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set eth0p up
echo "${NETCONF:-{\"Network\": \"10.128.0.0/9\", \"Backend\": {\"Type\": \"vxlan\"}}}" > "$work/net-conf.json"
if [[ -n $store ]]; then cp "$store" "$work/leases.db"; fi
"$bin" --netns "$ns" --iface eth0 --net-config-path "$work/net-conf.json" --datastore-path "$work/leases.db" \
  --subnet-file "$work/run/subnet.env" --state-dir "$work/state" --healthz-ip 127.0.0.1 --healthz-port "$port" \
  2>"$work/log" &
pid=$!
printf 'seconds\tVmRSS_kB\tVmHWM_kB\tGCs_gen0/1/2\theap_kB_gen0/1/2/loh/poh\n'
t=0
while (( t < secs )); do
  sleep "$step"
  t=$((t + step))
  m=$(curl -s "http://127.0.0.1:$port/metrics" || true)
  gcs=$(grep -E '^dotnet_gc_collections_total' <<<"$m" | awk '{printf "%s/", $2}' || true)
  heap=$(grep -E '^dotnet_gc_last_collection_heap_size_bytes' <<<"$m" | awk '{printf "%d/", $2/1024}' || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" \
    "$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")" "${gcs%/}" "${heap%/}"
done
