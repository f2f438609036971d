#!/usr/bin/env bash
# The sealed libfiberws.a: one object whose global symbols are exactly the fws_* functions the shared library
# exports and the header declares (no managed code, Rhp*, minipal, zlib or brotli symbols to clash with a host).
# Usage: check_archive.sh LIBFIBERWS_A LIBFIBERWS_SO FIBERWS_H
set -uo pipefail   # no -e: every check runs and is counted
archive=$1; so=$2; header=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
check() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }

members=$(ar t "$archive")
[ "$members" = "libfiberws.o" ]; check $? "the archive holds one object libfiberws.o (has: $(echo $members))"

nm -g --defined-only "$archive" | awk 'NF == 3 { print $3 }' | sort >"$tmp/archive"
nm -D --defined-only --without-symbol-versions "$so" | awk '$2 == "T" && $3 ~ /^fws_/ { print $3 }' | sort >"$tmp/so"
grep -o '^FWS_API [^(]*(' "$header" | sed -E 's/.*[ *](fws_[a-z0-9_]+)\($/\1/' | sort >"$tmp/header"

n=$(wc -l <"$tmp/archive")
[ "$n" -gt 0 ]; check $? "the archive defines global symbols"
! grep -v '^fws_' "$tmp/archive" >"$tmp/other"; check $? "only fws_* globals; also: $(head -5 "$tmp/other" | tr '\n' ' ')"
diff -u "$tmp/so" "$tmp/archive" >"$tmp/d1"; check $? "archive globals = shared library exports: $(head -20 "$tmp/d1")"
diff -u "$tmp/header" "$tmp/archive" >"$tmp/d2"; check $? "archive globals = header declarations: $(head -20 "$tmp/d2")"
# Weak definitions would also let a host's symbols interpose; there should be none left global.
! nm -g --defined-only "$archive" | awk '$2 ~ /^[VvWw]$/' | grep -q .; check $? "no global weak definitions"

echo "static archive: $n global symbols ($(grep -c '^fws_' "$tmp/archive") fws_*), $(du -k "$archive" | cut -f1) KiB"
echo "static archive: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
