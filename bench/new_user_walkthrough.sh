#!/usr/bin/env bash
# A new user's first hour, timed: a fresh clone, the README's step 1 verbatim (fresh venv, install, sample
# photos, ingest, search), then the README's commands on that library (and a few mistakes a new user makes).
# Prints one line per command: seconds, exit code, and TRACEBACK if one reached the user.
# usage: bench/new_user_walkthrough.sh [WORKDIR]   (default /tmp/walk); WALK_TESTS=1 also runs README step 2.
set -u
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 COLUMNS=100
W=${1:-/tmp/walk}
rm -rf "$W"
git clone -q "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)" "$W"
cd "$W" || exit 1
echo "commit $(git log --oneline -1 | cut -c1-80)"
readme_command() { awk -v tag="# $1." 'index($0, tag) == 1 { getline; print; exit }' README.md; }
run() {  # label, expected exit code, command...
    local label=$1 want=$2 t0 t1 rc note=""
    shift 2
    t0=$(date +%s.%N)
    "$@" >"$W/.walk-out" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    grep -q "Traceback" "$W/.walk-out" && note=" TRACEBACK"
    [[ $rc == "$want" ]] || note="$note UNEXPECTED-EXIT(want $want)"
    printf '%8.1f s  rc=%s  %s%s\n' "$(echo "$t1 - $t0" | bc)" "$rc" "$label" "$note"
    sed 's/^/            | /' "$W/.walk-out" | head -"${WALK_LINES:-6}"
}
run "README step 1: $(readme_command 1 | cut -c1-60)…" 0 bash -euo pipefail -c "$(readme_command 1)"
echo "venv: $(du -sh .venv | cut -f1)"
M=.venv/bin/mmrag
L=(--library demo-lib)
mkdir -p demo-docs
printf '# Resetting the router\n\nTo reset the **router**, hold the reset button on its back\nfor ten seconds until the lights blink.\n' >demo-docs/router.md
printf 'Returns are accepted within thirty days of delivery.\nRefunds go back to the card used for the purchase.\n' >demo-docs/returns.txt
run "mmrag --version" 0 $M --version
run "mmrag status" 0 $M status "${L[@]}"
run "mmrag search 'a cat on a sofa'" 0 $M search "a cat on a sofa" "${L[@]}"
run "mmrag search --folder 'demo-photos/*'" 0 $M search "a photo" --folder "demo-photos/*" -k 3 "${L[@]}"
run "mmrag similar 1" 0 $M similar 1 -k 3 "${L[@]}"
run "mmrag duplicates" 0 $M duplicates "${L[@]}"
run "mmrag tag 1 2 --add favourite" 0 $M tag 1 2 --add favourite "${L[@]}"
run "mmrag skipped" 0 $M skipped "${L[@]}"
run "mmrag rebuild" 0 $M rebuild "${L[@]}"
run "mmrag ask (no documents yet)" 0 $M ask "How do I reset the router?" "${L[@]}"
run "mmrag ingest demo-docs" 0 $M ingest demo-docs "${L[@]}"
run "mmrag search --kind text" 0 $M search "reset the router" --kind text "${L[@]}"
run "mmrag ask" 0 $M ask "How do I reset the router?" "${L[@]}"
run "mmrag generate --model tiny-test" 0 $M generate "a watercolor cat" --like "a cat" --model tiny-test --steps 2 "${L[@]}"
run "mmrag doctor" 0 $M doctor "${L[@]}"
run "mistake: --library typo" 1 $M status --library demo-lbi
run "mistake: MMRAG_DEVICE=cdua" 1 env MMRAG_DEVICE=cdua $M status "${L[@]}"
run "mistake: --kind photo" 1 $M search x --kind photo "${L[@]}"
[[ -d demo-lbi ]] && echo "BUG: the typo created demo-lbi"
if [[ "${WALK_TESTS:-0}" == 1 ]]; then
    WALK_LINES=3 run "README step 2: $(readme_command 2)" 0 bash -euo pipefail -c "$(readme_command 2) 2>&1 | tail -3"
fi
