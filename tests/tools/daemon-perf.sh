#!/usr/bin/env bash
# Measures the flanneld binary against an embedded store: time from process start to /readyz 200 and to all
# peer routes present on flannel.1, and the process's VmHWM/VmRSS once programmed. Runs in a private namespace
# (fln-perf-*) with a veth underlay; never touches the root namespace's interfaces, routes or firewall.
#
# usage: tests/tools/daemon-perf.sh FLANNELD STORE PEERS [RUNS]
#   FLANNELD  the binary (e.g. samples/Flanneld/bin/Release/net10.0/linux-x64/publish/flanneld)
#   STORE     an embedded store pre-filled with PEERS vxlan leases and its network config, e.g. made by
#             FLANNEL_DAEMON_SCALE_STORE=/tmp/leases.db dotnet test --project tests/Flannel.Daemon.Tests \
#               -c Release -- --filter-method '*A_thousand_peers*'
#             (or an empty file path for a store with no peers: then NETCONF must be set)
set -euo pipefail
bin=$1 store=$2 peers=$3 runs=${4:-5}
source "$(dirname "$0")/daemon-ns.sh" fln-perf
now() { date +%s%N; }
printf 'run\tready_ms\troutes_ms\tVmHWM_kB\tVmRSS_kB\n'
for r in $(seq 1 "$runs"); do
  if [[ -n $store ]]; then cp "$store" "$work/leases.db"; else rm -f "$work/leases.db"*; fi
  rm -rf "$work/run" "$work/state"
  ip -n "$ns" link del flannel.1 2>/dev/null || true
  t0=$(now)
  start_daemon "$bin"
  ready=""
  routes=""
  for _ in $(seq 1 6000); do
    if [[ -z $ready ]] && curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q 200; then
      ready=$(( ($(now) - t0) / 1000000 ))
    fi
    if [[ -n $ready && -z $routes ]]; then
      n=$( (ip -n "$ns" route show dev flannel.1 2>/dev/null || true) | wc -l)
      if (( n >= peers )); then routes=$(( ($(now) - t0) / 1000000 )); fi
    fi
    [[ -n $ready && -n $routes ]] && break
    sleep 0.005
  done
  sleep 1
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true; pid=""
  printf '%s\t%s\t%s\t%s\t%s\n' "$r" "${ready:-timeout}" "${routes:-timeout}" "$hwm" "$rss"
done
