#!/usr/bin/env python3
"""The size limits a reader can rely on (scripts/lint.sh runs this): no C++
source or header of apd over 600 lines, and no function body over 60 lines
except a documented opcode switch (a function whose first line carries
"// size: opcode switch"). clang-tidy's readability-function-size would do the
second, but clang 14 cannot parse Debian's LibTorch headers, so this counts
braces itself: a body is a '{' that follows a parameter list's ')' (and
const, noexcept, override, -> T, an initializer list), at any depth outside
another function's body; strings, characters and comments are skipped.

Usage: check_sizes.py FILE...   (exit 1 and a line per violation)
"""
import re
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 60
EXEMPT = "size: opcode switch"


def code_only(text):
    """The text with comments, strings and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end])); i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)


SIGNATURE_END = re.compile(
    r"\)\s*(const\s*)?(noexcept\s*(\([^)]*\))?\s*)?(override\s*|final\s*)*(->\s*[\w:<>,\s*&]+)?"
    r"(:\s*[\w:]+\s*[({][^{}]*[)}](\s*,\s*[\w:]+\s*[({][^{}]*[)}])*\s*)?$")
CONTROL = re.compile(r"\b(if|for|while|switch|catch)\s*\($")


def functions(code):
    """(name line, first line, last line) of every function body."""
    found, stack = [], []  # stack of (is_function, start_line)
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == "{":
            before = code[max(0, i - 400):i].rstrip()
            head = before[before.rfind(";") + 1:] if ";" in before else before
            is_function = (not any(f for f, _ in stack)) and bool(SIGNATURE_END.search(before)) \
                and not CONTROL.search(before[: before.rfind(")") + 1] if ")" in before else "")
            stack.append((is_function, line))
        elif c == "}" and stack:
            is_function, start = stack.pop()
            if is_function:
                found.append((start, line))
    return found


def main(paths):
    problems = []
    for path in paths:
        text = open(path, encoding="utf-8").read()
        lines = text.split("\n")
        if len(lines) - 1 > MAX_FILE_LINES:
            problems.append(f"{path}: {len(lines) - 1} lines (at most {MAX_FILE_LINES}: split the concept)")
        for start, end in functions(code_only(text)):
            body = end - start - 1
            if body > MAX_FUNCTION_LINES and EXEMPT not in lines[start - 1]:
                problems.append(f"{path}:{start}: a function of {body} lines (at most {MAX_FUNCTION_LINES})")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
