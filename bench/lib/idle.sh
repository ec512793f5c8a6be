# bench/lib/idle.sh -- waiting for a quiet machine before a measurement
# (bash, sourced).
#
#   wait_idle   samples /proc/stat for 1 s until one second is at least
#       IDLE_PCT (90) % idle, or IDLE_WAIT (10) s have passed; counts the
#       measurements (NMEAS) and those that started quiet (QUIET), which the
#       results files report.
IDLE_PCT=${IDLE_PCT:-90}
IDLE_WAIT=${IDLE_WAIT:-10}
QUIET=0 NMEAS=0
jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
wait_idle() {
    local t0=$SECONDS a b busy idle
    NMEAS=$((NMEAS + 1))
    while :; do
        read -r -a a < <(jiffies); sleep 1; read -r -a b < <(jiffies)
        busy=$((b[0] - a[0])); idle=$((b[1] - a[1]))
        if [ $((100 * idle / (busy + idle + 1))) -ge "$IDLE_PCT" ]; then QUIET=$((QUIET + 1)); return 0; fi
        [ $((SECONDS - t0)) -lt "$IDLE_WAIT" ] || return 0
    done
}
