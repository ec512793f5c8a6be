# bench/lib/link.sh -- a shaped link between two network namespaces, for
# benchmarks that fetch from a registry "over the network" (bash, sourced).
#
#   link_up PREFIX NET RATE RTT_MS REG_DIR   namespaces PREFIX-s (server) and
#       PREFIX-c (client), a veth pair NET.1 <-> NET.2 shaped with tbf at RATE
#       each way; Debian's docker-registry (scripts/registry.sh, access log
#       on) on the server namespace's own 127.0.0.1 with storage in REG_DIR,
#       fronted by bench/delay_proxy.py on NET.1:5000 adding RTT_MS per round
#       trip.  In the client namespace, a relay on its own 127.0.0.1:5000
#       (delay_proxy.py, no delay added) forwards to NET.1:5000, for clients
#       that speak plain HTTP to loopback registries only (as docker does,
#       and our daemon and soci-mount).  Sets LINK_CL / LINK_SV (nsenter
#       command prefixes, arrays), LINK_REMOTE (NET.1:5000), LINK_LOCAL
#       (127.0.0.1:5000 in the client namespace), LINK_RPORT (the
#       registry's port inside the server namespace), LINK_RTT (measured ms
#       of a request on a kept connection).
#   link_down   stops the proxy, the relay and the registry (by PID) and deletes both
#       namespaces.  Safe to call twice.
#
# No address is added outside the two namespaces.  Needs ROOT (the
# repository) and root privileges; nothing is left behind by link_down.

LINK_PROXY_PID="" LINK_RELAY_PID="" LINK_NS_S="" LINK_NS_C="" LINK_REG_DIR=""

link_up() {
    local prefix=$1 net=$2 rate=$3 rtt=$4 i=0
    LINK_REG_DIR=$5
    LINK_NS_S=$prefix-s LINK_NS_C=$prefix-c
    ip netns del "$LINK_NS_S" 2>/dev/null || true # left over from an interrupted run
    ip netns del "$LINK_NS_C" 2>/dev/null || true
    ip netns add "$LINK_NS_S"
    ip netns add "$LINK_NS_C"
    ip link add "$prefix-vs" type veth peer name "$prefix-vc"
    ip link set "$prefix-vs" netns "$LINK_NS_S"
    ip link set "$prefix-vc" netns "$LINK_NS_C"
    ip -n "$LINK_NS_S" addr add "$net.1/24" dev "$prefix-vs"
    ip -n "$LINK_NS_C" addr add "$net.2/24" dev "$prefix-vc"
    ip -n "$LINK_NS_S" link set lo up
    ip -n "$LINK_NS_C" link set lo up
    ip -n "$LINK_NS_S" link set "$prefix-vs" up
    ip -n "$LINK_NS_C" link set "$prefix-vc" up
    tc -n "$LINK_NS_S" qdisc add dev "$prefix-vs" root tbf rate "$rate" burst 64kb latency 50ms
    tc -n "$LINK_NS_C" qdisc add dev "$prefix-vc" root tbf rate "$rate" burst 64kb latency 50ms
    LINK_CL=(nsenter "--net=/run/netns/$LINK_NS_C")
    LINK_SV=(nsenter "--net=/run/netns/$LINK_NS_S")
    LINK_RPORT=$(REGISTRY_ACCESS_LOG=1 "${LINK_SV[@]}" sh "$ROOT/scripts/registry.sh" start "$LINK_REG_DIR")
    "${LINK_SV[@]}" /usr/bin/python3 "$ROOT/bench/delay_proxy.py" --listen "$net.1:5000" \
        --upstream "127.0.0.1:$LINK_RPORT" --rtt-ms "$rtt" &
    LINK_PROXY_PID=$!
    LINK_REMOTE=$net.1:5000
    "${LINK_CL[@]}" /usr/bin/python3 "$ROOT/bench/delay_proxy.py" --listen 127.0.0.1:5000 \
        --upstream "$LINK_REMOTE" --rtt-ms 0 &
    LINK_RELAY_PID=$!
    LINK_LOCAL=127.0.0.1:5000
    until [ "$("${LINK_CL[@]}" curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$LINK_LOCAL/v2/" 2>/dev/null)" = 200 ]; do
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "link.sh: the registry is not reachable through the link" >&2; return 1; }
        sleep 0.2
    done
    LINK_RTT=$("${LINK_CL[@]}" curl -s -o /dev/null -o /dev/null -w '%{time_starttransfer}\n' \
        "http://$LINK_LOCAL/v2/" "http://$LINK_LOCAL/v2/" | tail -1 | awk '{printf "%.1f", $1 * 1000}')
}

link_down() {
    local p
    for p in $LINK_RELAY_PID $LINK_PROXY_PID; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    LINK_PROXY_PID="" LINK_RELAY_PID=""
    [ -z "$LINK_REG_DIR" ] || sh "$ROOT/scripts/registry.sh" stop "$LINK_REG_DIR" >/dev/null 2>&1
    if [ -n "$LINK_NS_S" ]; then
        ip netns del "$LINK_NS_S" 2>/dev/null
        ip netns del "$LINK_NS_C" 2>/dev/null
        LINK_NS_S="" LINK_NS_C=""
    fi
    return 0
}
