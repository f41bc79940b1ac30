"""Runs a command and fails it if its peak resident memory exceeds a bound.

  peak_rss.py MAX_MB COMMAND...

The command's output passes through and its exit code is returned; over the
bound, one more line on stderr ("peak RSS N MB exceeds MAX_MB MB") and exit 99.
"""
import resource
import subprocess
import sys

limit = int(sys.argv[1])
code = subprocess.run(sys.argv[2:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
if peak > limit:
    print(f"peak RSS {peak} MB exceeds {limit} MB", file=sys.stderr)
    sys.exit(99)
sys.exit(code)
