#!/usr/bin/env bash
# run.sh - backend benchmarks against the anchors, in one run (run as root; keep it short: ~3 min).
#
#   ./run.sh [cp] [dp]          (default: both)
#
# cp: convergence. 5,000 peer leases arrive at once; our vxlan backend programs 15,000 kernel objects
#     (neighbour + FDB + onlink route per peer), host-gw 5,000 routes (distinct gateways). Anchor: the C
#     batched rtnetlink client (anchors/c/nlbench.c -m batch -b 1024) doing the same operations
#     (neigh-add, fdb-add, route-add onlink with distinct gateways; route-add-1gw for reference) in a
#     namespace built like cp.sh's. Alternates anchor and ours, REPS times.
# dp: data path. A copy of anchors/dp.sh with its namespaces renamed (anc-h1/anc-h2 -> anc-g1/anc-g2, so
#     other users of the anchors are not disturbed) and two extra modes, ourshostgw and oursvxlan, that
#     build the very same two-host topology and let our backends (backends-bench program) program it;
#     iperf3 then runs exactly as for the hand-built hostgw and vxlan modes. Serialised with
#     flock /tmp/fln-anchors.lock.
#
# env: N (5000), REPS (3), ANCHORS (/work/shared/bench/anchors), TCP_SECS (5), UDP_SECS (3),
#      DP_MODES ("hostgw ourshostgw vxlan oursvxlan")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
N=${N:-5000}
REPS=${REPS:-3}
ANCHORS=${ANCHORS:-/work/shared/bench/anchors}
PARTS=${*:-"cp dp"}
tmp=$(mktemp -d /tmp/fln-bb.XXXXXX)
cp -r "$ANCHORS" "$tmp/anchors"
a="$tmp/anchors"
cleanup() {
	ip netns del fln-bbcp 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

dotnet build "$here/Flannel.Backends.Bench.csproj" -c Release -v q -nologo >/dev/null
bench="$here/bin/Release/net10.0/backends-bench"
echo "# backends bench $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), N=$N REPS=$REPS"

if [[ " $PARTS " == *" cp "* ]]; then
	gcc -O2 -o "$a/nlbench" "$a/c/nlbench.c"
	for rep in $(seq "$REPS"); do
		ip netns add fln-bbcp
		ip -n fln-bbcp link set lo up
		ip -n fln-bbcp link add eth0 type veth peer name eth1
		ip -n fln-bbcp addr add 198.18.0.1/15 dev eth0
		ip -n fln-bbcp link set eth0 up
		ip -n fln-bbcp link set eth1 up
		ip -n fln-bbcp link add vxlan0 type vxlan id 1 local 198.18.0.1 dev eth0 dstport 8472 nolearning
		ip -n fln-bbcp link set vxlan0 mtu 1450 up
		ip netns exec fln-bbcp "$a/nlbench" -n "$N" -m batch -b 1024 -i vxlan0 -u eth0 neigh-add fdb-add route-add route-del route-add-1gw |
			sed 's/^/anchor.c-batch /'
		ip netns del fln-bbcp
		"$bench" converge -b vxlan -n "$N" -r 1 2>/dev/null | sed 's/^/ours /'
		"$bench" converge -b host-gw -n "$N" -r 1 2>/dev/null | sed 's/^/ours /'
	done
fi

if [[ " $PARTS " == *" dp "* ]]; then
	# Rename the anchors' namespaces in our copy, and add our two modes.
	sed -i 's/anc-h/anc-g/g; s/anc-cp/anc-gcp/g' "$a"/*.sh
	cat >"$tmp/ours.sh" <<OURS
setup_ours() {
	"$bench" program -b "\$1" --ns \$H1,\$H2 </dev/null >"\$TMP/ours.log" 2>&1 &
	track_pid \$!
	local i
	for i in \$(seq 200); do grep -q '^ready' "\$TMP/ours.log" && break; sleep 0.1; done
	grep -q '^ready' "\$TMP/ours.log" || die "our backend did not program the hosts: \$(cat "\$TMP/ours.log")"
	log "ours \$1: \$(cat "\$TMP/ours.log")"
	SRC=10.244.1.1 DST=10.244.2.1
}
setup_ourshostgw() { setup_ours host-gw; }
setup_oursvxlan() { setup_ours vxlan; }
OURS
	sed -i "/^need iperf3/e cat $tmp/ours.sh" "$a/dp.sh"
	flock /tmp/fln-anchors.lock env REPS="$REPS" TCP_SECS="${TCP_SECS:-5}" UDP_SECS="${UDP_SECS:-3}" RATE_PPS=0 \
		timeout 300 "$a/dp.sh" ${DP_MODES:-hostgw ourshostgw vxlan oursvxlan} 2>&1 | grep -E '^RESULT|!!|failed|ours ' || true
fi
