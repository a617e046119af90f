#!/usr/bin/env bash
# cpu-compare.sh [N] [REPS] : C anchor vs nlbench-cs on the same namespace, alternating, single and batch modes.
# Besides wall-clock ops/s (noisy on a loaded shared machine) it reports CPU time per operation (user+sys of the
# process over the timed loop), which does not depend on scheduling. For the C side the anchor source is compiled
# with a getrusage() print added around each phase by sed (the anchor itself is not modified).
# env: PHASES (default: all eight), MODES (default: "single batch"), ANCHOR, CS.
# Run as root. Uses the namespace fln-nlcpu and deletes it on exit.
set -eu
N=${1:-2000}; REPS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ANCHOR=${ANCHOR:-/work/shared/bench/anchors/c/nlbench.c}
CS=${CS:-$HERE/bin/Release/net10.0/nlbench-cs}
TMP=$(mktemp -d); NS=fln-nlcpu
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
sed -e 's|#include <unistd.h>|#include <unistd.h>\n#include <sys/resource.h>|' \
    -e 's|\t\tdouble t0 = now_s();|\t\tstruct rusage r0, r1; getrusage(RUSAGE_SELF, \&r0);\n\t\tdouble t0 = now_s();|' \
    -e 's|\t\tdouble dt = now_s() - t0;|\t\tdouble dt = now_s() - t0; getrusage(RUSAGE_SELF, \&r1);\n\t\tfprintf(stderr, "nlbench: %s: cpu %.2f us/op\\n", argv[a], ((r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / n);|' \
    "$ANCHOR" >"$TMP/nlbench-cpu.c"
gcc -O2 -o "$TMP/nlbench" "$TMP/nlbench-cpu.c"
ip netns add $NS; ip -n $NS link set lo up
ip -n $NS link add eth0 type veth peer name eth1; ip -n $NS addr add 198.18.0.1/15 dev eth0
ip -n $NS link set eth0 up; ip -n $NS link set eth1 up
ip -n $NS link add vxlan0 type vxlan id 1 local 198.18.0.1 dev eth0 dstport 8472 nolearning
ip -n $NS link set vxlan0 mtu 1450 up
PHASES=${PHASES:-"route-add route-del route-add-1gw route-del-1gw neigh-add neigh-del fdb-add fdb-del"}
for mode in ${MODES:-single batch}; do
  for rep in $(seq "$REPS"); do
    for tool in c cs; do
      if [ $tool = c ]; then cmd="$TMP/nlbench"; else cmd="$CS"; fi
      ip netns exec $NS $cmd -m $mode -b 1024 -n "$N" -i vxlan0 -u eth0 $PHASES >"$TMP/out" 2>"$TMP/err"
      paste -d' ' "$TMP/out" <(grep -o 'cpu [0-9.]*' "$TMP/err" | awk '{print $2}') | sed "s/^/$mode $tool /"
    done
  done
done
