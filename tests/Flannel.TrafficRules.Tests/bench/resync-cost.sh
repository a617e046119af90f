#!/usr/bin/env bash
# Per-resync cost of checking flannel's IPv4 rules (masquerade + forward, 10 rules), in a private network
# namespace with K extra nat rules standing in for kube-proxy:
#   flanneld (go-iptables): per rule a chain-existence check (iptables -S CHAIN 1) and iptables -C   = 20 runs
#   Flannel.Net resync:     iptables -S of the 4 chains it checks (POSTROUTING, FLANNEL-POSTRTG,
#                           FORWARD, FLANNEL-FWD), compared in-process                                 =  4 runs
#   for reference:          one iptables-save of the whole rule set (what an ensure reads)             =  1 run
# Usage (as root): resync-cost.sh [repetitions] [extra-rule counts...]   e.g. resync-cost.sh 10 0 5000 20000
set -euo pipefail
reps=${1:-10}; shift || true
counts=("${@:-0 5000 20000}"); counts=(${counts[*]})
ns=fln-bench-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }

N=10.244.0.0/16 P=10.244.5.0/24 C='-m comment --comment "flanneld masq"' F='-m comment --comment "flanneld forward"'
in_ns iptables-restore --noflush <<RULES
*nat
:FLANNEL-POSTRTG - [0:0]
-A POSTROUTING $C -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 $C -j RETURN
-A FLANNEL-POSTRTG -s $P -d $N $C -j RETURN
-A FLANNEL-POSTRTG -s $N -d $P $C -j RETURN
-A FLANNEL-POSTRTG ! -s $N -d $P $C -j RETURN
-A FLANNEL-POSTRTG -s $N ! -d 224.0.0.0/4 $C -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s $N -d $N $C -j MASQUERADE --random-fully
COMMIT
*filter
:FLANNEL-FWD - [0:0]
-A FORWARD $F -j FLANNEL-FWD
-A FLANNEL-FWD -s $N $F -j ACCEPT
-A FLANNEL-FWD -d $N $F -j ACCEPT
COMMIT
RULES

# The 20 checks flanneld makes per resync, as one script run inside the namespace.
check_flannel=$(cat <<'CHECK'
N=10.244.0.0/16 P=10.244.5.0/24
c() { iptables -w -t "$1" -S "$2" 1 >/dev/null && shift 2 && iptables -w "$@" >/dev/null; }
c nat FLANNEL-POSTRTG -t nat -C POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG -s $P -d $N -m comment --comment "flanneld masq" -j RETURN
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG -s $N -d $P -m comment --comment "flanneld masq" -j RETURN
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG ! -s $N -d $P -m comment --comment "flanneld masq" -j RETURN
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG -s $N ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
c nat FLANNEL-POSTRTG -t nat -C FLANNEL-POSTRTG ! -s $N -d $N -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
c filter FLANNEL-FWD -t filter -C FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
c filter FLANNEL-FWD -t filter -C FLANNEL-FWD -s $N -m comment --comment "flanneld forward" -j ACCEPT
c filter FLANNEL-FWD -t filter -C FLANNEL-FWD -d $N -m comment --comment "flanneld forward" -j ACCEPT
CHECK
)

ms() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
avg() { local total=0 i; for ((i = 0; i < reps; i++)); do total=$(( total + $(ms "$@") )); done; echo $(( total / reps )); }

printf '| extra nat rules | flanneld check, 20 runs (ms) | Flannel.Net resync, 4 × iptables -S (ms) | one iptables-save (ms) | flanneld / Flannel.Net |\n|---:|---:|---:|---:|---:|\n'
have=0
for k in "${counts[@]}"; do
  if (( k > have )); then
    { echo '*nat'; echo ':KUBE-BENCH - [0:0]'
      for ((i = have; i < k; i++)); do echo "-A KUBE-BENCH -s 198.18.$(( i / 250 % 250 )).$(( i % 250 + 1 ))/32 -j RETURN"; done
      echo COMMIT; } | in_ns iptables-restore --noflush
    have=$k
  fi
  a=$(avg in_ns bash -c "$check_flannel")
  b=$(avg in_ns bash -c 'iptables-save >/dev/null')
  c=$(avg in_ns bash -c 'for x in "nat POSTROUTING" "nat FLANNEL-POSTRTG" "filter FORWARD" "filter FLANNEL-FWD"; do set -- $x; iptables --wait=5 -t $1 -S $2 >/dev/null; done')
  r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
  printf '| %d | %d | %d | %d | %s |\n' "$k" "$a" "$c" "$b" "$(r "$a" "$c")"
done
echo "($(in_ns iptables --version), $reps repetitions each, $(nproc) CPUs, $(date -u +%FT%TZ))"
