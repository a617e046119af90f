# Sourced by daemon-perf.sh and daemon-steady.sh: a private namespace "$ns" (name prefix given as $1) with a veth
# underlay eth0 (198.18.0.1/24), a work directory "$work" holding net-conf.json ($NETCONF or a vxlan 10.128.0.0/9
# network), a health port "$port", and start_daemon BIN, which starts flanneld in it ("$pid"). Everything is removed
# on exit: the daemon (SIGTERM), the namespace, the work directory. Never touches the root namespace.
ns=$1-$$
work=$(mktemp -d "/tmp/$1-XXXX")
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

start_daemon() {
  "$1" --netns "$ns" --iface eth0 --net-config-path "$work/net-conf.json" --datastore-path "$work/leases.db" \
    --subnet-file "$work/run/subnet.env" --state-dir "$work/state" --healthz-ip 127.0.0.1 --healthz-port "$port" \
    2>"$work/log" &
  pid=$!
}
