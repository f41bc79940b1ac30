# What every shell test of tests/ shares; source it after setting -euo pipefail:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# (tests/expect.sh is the ctest-side checker of one command; this is for
# scripts that run many.)

# fail MESSAGE: the test fails with MESSAGE.
fail() { echo "FAIL: $*"; exit 1; }

# expect CODE REGEX COMMAND...: COMMAND exits with CODE and writes exactly
# one line to stderr, which matches the extended regex REGEX.
expect() {
  local code="$1" regex="$2"; shift 2
  local out err got
  out="$(mktemp)"; err="$(mktemp)"
  set +e; "$@" >"$out" 2>"$err"; got=$?; set -e
  local message; message="$(cat "$err")"; rm -f "$out" "$err"
  [[ $got == "$code" ]] || fail "$* exited $got, not $code: $message"
  [[ $(printf '%s\n' "$message" | wc -l) == 1 && -n "$message" ]] || fail "$*: not one line on stderr: $message"
  grep -Eq -e "$regex" <<<"$message" || fail "$*: '$message' does not match /$regex/"
}

# expect_absent PATH...: nothing was written there.
expect_absent() {
  local p
  for p in "$@"; do [[ ! -e "$p" ]] || fail "$p was written"; done
}
