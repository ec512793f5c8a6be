#!/bin/sh
# ztoc_gen_memory.sh -- ztoc-gen's peak RSS stays within 16 MiB plus twice
# the ztoc it writes, whatever the layer size (the issue's memory bound).
#
# A ~180 MB gzip layer L is made from this machine's /usr (the first
# LAYER_MIB MiB of file data in path order, tar | pigz -1).  ztoc-gen runs
# under /usr/bin/time -v on L and on L+L (the same bytes twice as a
# two-member gzip: twice the input, twice the spans, the same TOC), each at
# the default 4 MiB span and at 64 MiB.  Every run must stay within the
# bound, and doubling the input at 64 MiB spans (where the ztoc barely
# grows) must not grow the peak by more than twice the ztoc's growth plus
# 1 MiB: memory follows the ztoc, not the layer.
#
# Needs BIN, ROOT and TMP from tests/run.sh.
set -eu
: "${BIN:?}" "${TMP:?}"
LAYER_MIB=${LAYER_MIB:-480}
TAB=$(printf '\t')

if [ ! -x /usr/bin/time ]; then
    echo "skip: /usr/bin/time missing (Debian package time; make -C build deps)"
    exit 77
fi
if command -v pigz >/dev/null; then GZ="pigz -1"; else GZ="gzip -1"; fi

# ---- the layer: /usr in path order until LAYER_MIB MiB of file data -------
start=$(date +%s)
find /usr -xdev \( -type f -o -type l -o -type d \) -printf "%y$TAB%s${TAB}usr/%P\n" 2>/dev/null |
    LC_ALL=C sort -t "$TAB" -k3,3 |
    awk -F "$TAB" -v budget=$((LAYER_MIB * 1048576)) '
        { y[NR] = $1; s[NR] = $2; p[NR] = $3 }
        END {   # once more from the top if /usr is smaller than the budget
            for (pass = 0; total < budget && (pass == 0 || total > 0); pass++)
                for (i = 1; i <= NR && total < budget; i++) {
                    print p[i]
                    if (y[i] == "f") total += s[i]
                }
        }' >"$TMP/list"
{ tar -C / --no-recursion --ignore-failed-read --warning=no-file-changed \
      -cf - -T "$TMP/list" 2>/dev/null || [ $? -eq 1 ]; } | $GZ >"$TMP/L.tar.gz"
cat "$TMP/L.tar.gz" "$TMP/L.tar.gz" >"$TMP/LL.tar.gz"
echo "layer: $(wc -l <"$TMP/list") entries, $(stat -c %s "$TMP/L.tar.gz") bytes ($GZ), built in $(($(date +%s) - start)) s"
[ "$(stat -c %s "$TMP/L.tar.gz")" -gt 50000000 ] || { echo "FAIL: /usr gave a layer under 50 MB"; exit 1; }

# ---- the runs ----------------------------------------------------------------
# ASan's shadow memory and quarantine are no part of ztoc-gen's footprint:
# the bounds are asserted for the real build (`make test`); a sanitizer
# build (`make check`) runs the same layers for memory errors and reports
# the figures
SAN_BUILD=0
grep -qa AddressSanitizer "$BIN/ztoc-gen" && SAN_BUILD=1
fail=0
printf '%-6s %-6s %12s %12s %12s %12s\n' layer span input ztoc peak_KiB bound_KiB
for span in 4194304 67108864; do
    for layer in L LL; do
        out=$TMP/$layer.$span.ztoc
        if ! /usr/bin/time -v -o "$TMP/time" "$BIN/ztoc-gen" --span-size $span -o "$out" \
            "$TMP/$layer.tar.gz"; then
            echo "FAIL: ztoc-gen failed on $layer at span $span"
            exit 1
        fi
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMP/time")
        z=$(stat -c %s "$out")
        bound=$(((16 * 1048576 + 2 * z) / 1024))
        printf '%-6s %-6s %12s %12s %12s %12s\n' $layer $((span / 1048576))M \
            "$(stat -c %s "$TMP/$layer.tar.gz")" "$z" "$rss" "$bound"
        if [ "$rss" -gt "$bound" ] && [ "$SAN_BUILD" = 1 ]; then
            echo "note: $layer at span $span: over the bound in a sanitizer build (not asserted)"
        elif [ "$rss" -gt "$bound" ]; then
            echo "FAIL: $layer at span $span: peak RSS $rss KiB > 16 MiB + 2 x $z bytes = $bound KiB"
            fail=1
        fi
        eval "rss_${layer}_$span=$rss z_${layer}_$span=$z"
    done
done

# twice the input at 64 MiB spans: the peak may grow by the ztoc's growth only
grow=$((rss_LL_67108864 - rss_L_67108864))
allowed=$(((2 * (z_LL_67108864 - z_L_67108864) + 1048576) / 1024))
echo "64 MiB spans, L -> L+L: peak grows by $grow KiB (allowed $allowed KiB)"
if [ "$grow" -gt "$allowed" ] && [ "$SAN_BUILD" = 1 ]; then
    echo "note: +$grow KiB for twice the input in a sanitizer build (its quarantine grows with the frees; not asserted)"
elif [ "$grow" -gt "$allowed" ]; then
    echo "FAIL: peak RSS grows with the layer: +$grow KiB for twice the input"
    fail=1
fi
[ $fail -eq 0 ] && [ "$SAN_BUILD" = 0 ] && echo "ok: peak RSS within 16 MiB + 2 x ztoc in every run"
exit $fail
