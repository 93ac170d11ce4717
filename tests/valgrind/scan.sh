#!/bin/bash
# scan.sh DIR|LOG...: reads valgrind logs written by vg-exec.sh (DIR: every *.log under it)
# and fails if any reports an error or a definite or indirect leak, printing that log.
# A log without an ERROR SUMMARY is a process killed by SIGKILL (tests kill -9 on purpose
# and in their cleanup): nothing to check, only counted.
set -euo pipefail
logs=()
for a in "$@"; do
    if [ -d "$a" ]; then
        while IFS= read -r f; do logs+=("$f"); done < <(find "$a" -name '*.log' | sort)
    else
        logs+=("$a")
    fi
done
clean=0 killed=0 bad=0
for f in "${logs[@]}"; do
    summary=$(grep -o 'ERROR SUMMARY: [0-9,]* errors' "$f" | tail -1 || true)
    if [ -z "$summary" ]; then
        killed=$((killed + 1))
    elif [ "$summary" = "ERROR SUMMARY: 0 errors" ] &&
        ! grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
        clean=$((clean + 1))
    else
        bad=$((bad + 1))
        echo "=== valgrind: $f: $summary"
        grep -v -E '^==[0-9]+== *$' "$f" | sed -n '/Command:/,$p' | head -200
    fi
done
echo "valgrind: ${#logs[@]} logs: $clean clean, $bad with errors or leaks, $killed without a summary (killed)"
[ "$bad" = 0 ]
