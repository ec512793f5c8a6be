# scripts/proc.sh -- process helpers sourced by scripts/registry.sh,
# scripts/containerd.sh and scripts/snapshotter.sh (POSIX sh).
#
#   alive PID            the process exists and is not a zombie
#   wait_gone PID TENTHS wait up to TENTHS tenths of a second for PID to go;
#                        true when it is gone
#   stop_pid PID TENTHS  TERM, wait_gone TENTHS, then KILL and wait up to
#                        2 s more; true when it is gone
#
# Every process is addressed by its PID, never by name.

# a status that cannot be read means gone: the shell may reap a zombie child
# between kill -0 and the read
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    _proc_state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$_proc_state" ] && [ "$_proc_state" != Z ]
}

wait_gone() {
    _proc_i=0
    while alive "$1" && [ $_proc_i -lt "$2" ]; do
        sleep 0.1
        _proc_i=$((_proc_i + 1))
    done
    ! alive "$1"
}

stop_pid() {
    kill "$1" 2>/dev/null || return 0
    wait_gone "$1" "$2" && return 0
    kill -9 "$1" 2>/dev/null
    wait_gone "$1" 20
}
