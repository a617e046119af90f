#!/usr/bin/env bash
# dump-compare.sh [N] [REPS] : table dumps, nlbench-cs (ListAsync vs VisitAsync) against iproute2, same run.
# Sets up the namespace fln-nldump as cpu-compare.sh does, adds N routes (onlink), neighbours and FDB entries on
# vxlan0 with nlbench-cs (batch mode), then REPS times: the six dump phases of nlbench-cs, and iproute2's
# `ip route show dev vxlan0`, `ip neigh show dev vxlan0`, `bridge fdb show dev vxlan0` (output to /dev/null), each
# run R times. iproute2 is a new process per dump: the same command on an empty vxlan device (vxlan1, no entries) is
# run R times too and subtracted, wall and CPU, which removes process start-up, setns and the fixed netlink set-up.
# Output, one line per measurement: rep tool phase N entries_per_s cpu_us_per_entry bytes_per_entry user_us_per_entry
# (cpu = user + sys; sys is mostly the kernel building the dump, the same work for every tool).
# env: CS (nlbench-cs path). Run as root. Deletes the namespace on exit.
set -eu
N=${1:-1000}; REPS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
CS=${CS:-$HERE/bin/Release/net10.0/nlbench-cs}
NS=fln-nldump; TMP=$(mktemp -d)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add $NS; ip -n $NS link set lo up
ip -n $NS link add eth0 type veth peer name eth1; ip -n $NS addr add 198.18.0.1/15 dev eth0
ip -n $NS link set eth0 up; ip -n $NS link set eth1 up
ip -n $NS link add vxlan0 type vxlan id 1 local 198.18.0.1 dev eth0 dstport 8472 nolearning
ip -n $NS link add vxlan1 type vxlan id 2 local 198.18.0.1 dev eth0 dstport 8473 nolearning
ip -n $NS link set vxlan0 mtu 1450 up; ip -n $NS link set vxlan1 mtu 1450 up
ip netns exec $NS "$CS" -m batch -b 1024 -n "$N" -i vxlan0 -u eth0 route-add neigh-add fdb-add >/dev/null 2>"$TMP/add.err"
for rep in $(seq "$REPS"); do
  ip netns exec $NS "$CS" -m batch -n "$N" -i vxlan0 -u eth0 \
    route-dump-list route-dump-visit neigh-dump-list neigh-dump-visit fdb-dump-list fdb-dump-visit >"$TMP/out" 2>"$TMP/err"
  paste -d' ' "$TMP/out" <(grep -o 'cpu [0-9.]*' "$TMP/err" | awk '{print $2}') \
    <(grep -o '[0-9.]* bytes allocated' "$TMP/err" | awk '{print $1}') <(grep -o 'user [0-9.]*' "$TMP/err" | awk '{print $2}') |
    awk -v rep="$rep" '{printf "%s cs %s %s %s %s %s %s\n", rep, $1, $2, $4, $5, $6, $7}'
  ip netns exec $NS python3 - "$N" "$rep" <<'PY'
import os, resource, subprocess, sys, time
n, rep = int(sys.argv[1]), sys.argv[2]
def run(cmd, r):
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
    for _ in range(r):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t0; c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime), c1.ru_utime - c0.ru_utime
for phase, cmd in (("route-dump", ["ip", "route", "show", "dev"]), ("neigh-dump", ["ip", "neigh", "show", "dev"]),
                   ("fdb-dump", ["bridge", "fdb", "show", "dev"])):
    lines = subprocess.run(cmd + ["vxlan0"], capture_output=True, text=True, check=True).stdout.count("\n")
    if lines < n:
        sys.exit(f"{phase}: iproute2 printed {lines} lines, expected {n}")
    run(cmd + ["vxlan1"], 3); t1 = min(run(cmd + ["vxlan0"], 1)[0] for _ in range(3))
    r = max(5, min(2000, round(0.7 / t1)))
    tf, cf, uf = run(cmd + ["vxlan0"], r); te, ce, ue = run(cmd + ["vxlan1"], r)
    print(f"{rep} ip {phase} {n} {n * r / (tf - te):.0f} {(cf - ce) * 1e6 / (n * r):.3f} - {(uf - ue) * 1e6 / (n * r):.3f} (R={r}, full {tf / r * 1e3:.2f} ms, empty {te / r * 1e3:.2f} ms)")
PY
done
