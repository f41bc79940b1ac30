#!/usr/bin/env bash
# Runs a command and checks how it failed (or succeeded):
#   expect.sh CODE REGEX [--one-line] [--absent PATH]... [--unchanged PATH]... -- command [args...]
# CODE: the exit code wanted; REGEX: an extended regex the combined output
# must match; --one-line: stderr is exactly one line; --absent PATH: PATH must
# not exist afterwards (nothing half-written); --unchanged PATH: the listing
# and contents of PATH are the same before and after.
set -uo pipefail
want_code="$1"; regex="$2"; shift 2
one_line=0; absent=(); unchanged=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --one-line) one_line=1; shift ;;
    --absent) absent+=("$2"); shift 2 ;;
    --unchanged) unchanged+=("$2"); shift 2 ;;
    *) echo "expect.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift
snapshot() { [[ -e "$1" ]] && (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) || echo missing; }
declare -A before=()
for p in "${unchanged[@]+"${unchanged[@]}"}"; do before[$p]="$(snapshot "$p")"; done
out="$(mktemp)"; err="$(mktemp)"
"$@" >"$out" 2>"$err"
code=$?
status=0
if [[ "$code" != "$want_code" ]]; then echo "FAIL: exit code $code, wanted $want_code"; status=1; fi
if ! cat "$out" "$err" | grep -Eq -- "$regex"; then echo "FAIL: output does not match /$regex/"; status=1; fi
if ((one_line)) && [[ "$(wc -l <"$err")" -ne 1 ]]; then echo "FAIL: stderr has $(wc -l <"$err") lines, wanted 1"; status=1; fi
for p in "${absent[@]+"${absent[@]}"}"; do [[ -e "$p" ]] && { echo "FAIL: $p exists"; status=1; }; done
for p in "${unchanged[@]+"${unchanged[@]}"}"; do [[ "$(snapshot "$p")" == "${before[$p]}" ]] || { echo "FAIL: $p changed"; status=1; }; done
echo "--- command: $*"; echo "--- exit code: $code"; echo "--- stdout:"; head -c 2000 "$out"; echo "--- stderr:"; head -c 2000 "$err"
rm -f "$out" "$err"
exit $status
