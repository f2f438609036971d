#!/usr/bin/python3
"""Documentation test: every function of fiberws.h (parsed with libclang) has a complete doc comment.

usage: /usr/bin/python3 native-tests/doc_check.py include/fiberws.h

For each FWS_API function, the /** ... */ comment attached to it must have:
  1. a thread-safety statement: a paragraph starting "Thread-safety:" followed by text;
  2. for a non-void function, an "@return" that names at least one FWS_ constant defined in the header
     (FWS_OK, FWS_ERR_CLOSED, FWS_VERSION_HEX, ...) or a family of them ("FWS_ERR_*");
  3. for a pointer-returning function, a lifetime word in its @return; for every pointer out-parameter
     (T** name), an "@param name" with a lifetime word. Lifetime words: lent, copied, valid until / while /
     during / for, owned, owns, free(d), static storage;
  4. for a void function, a statement of what happens with NULL ("NULL is ignored", "no-op", ...);
  5. no "@param" for a name the function does not have.
Prints every problem (exit 1), or a one-line summary (exit 0). Needs Debian's python3-clang-14 (run with
/usr/bin/python3); LIBCLANG=/path/to/libclang.so overrides the library, as for abi_check.py.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abi_check import load_cindex  # noqa: E402  (same libclang lookup as the ABI test)

LIFETIME = re.compile(
    r"\b(lent|copied|valid (until|while|during|for|as long as)|owned|owns|free|freed|frees|static storage)\b",
    re.IGNORECASE)
NULL_BEHAVIOUR = re.compile(r"\bNULL\b[^.]*\b(ignored|no-op|nothing)\b", re.IGNORECASE)
THREAD = re.compile(r"(^|\n)Thread-safety:\s*\S")
FWS_NAME = re.compile(r"\bFWS_[A-Z0-9_]*[A-Z0-9](_\*)?|\bFWS_[A-Z0-9_]+_\*")


def comment_text(raw):
    """The text of a /** ... */ comment: markers and the leading " * " of each line removed."""
    body = raw.strip()
    body = re.sub(r"^/\*\*+", "", body)
    body = re.sub(r"\*+/$", "", body)
    lines = []
    for line in body.split("\n"):
        line = re.sub(r"^\s*\* ?", "", line.rstrip())
        lines.append(line)
    return "\n".join(lines).strip()


def split_tags(text):
    """(description, {'@param name': text}, return text or None); tag continuation lines join their tag."""
    description, params, ret = [], {}, None
    current = None
    for line in text.split("\n"):
        m = re.match(r"@param\s+(\w+)\s*(.*)", line)
        if m:
            current = ("param", m.group(1))
            params[m.group(1)] = m.group(2)
            continue
        m = re.match(r"@return\s*(.*)", line)
        if m:
            current = ("return", None)
            ret = m.group(1)
            continue
        if current is not None and line.startswith(" ") and line.strip():
            if current[0] == "param":
                params[current[1]] += " " + line.strip()
            else:
                ret += " " + line.strip()
            continue
        current = None
        description.append(line)
    return "\n".join(description).strip(), params, ret


def defined_constants(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*#\s*define\s+(FWS_[A-Z0-9_]+)\s", line)
            if m:
                names.add(m.group(1))
    return names


def names_constant(text, constants):
    for m in FWS_NAME.finditer(text):
        name = m.group(0)
        if name.endswith("_*"):
            family = name[:-1]
            if any(c.startswith(family) for c in constants):
                return True
        elif name in constants:
            return True
    return False


def is_pointer(cindex, t):
    return t.get_canonical().kind == cindex.TypeKind.POINTER


def is_pointer_out(cindex, t):
    t = t.get_canonical()
    return t.kind == cindex.TypeKind.POINTER and t.get_pointee().get_canonical().kind == cindex.TypeKind.POINTER


def check(path):
    cindex = load_cindex()
    index = cindex.Index.create()
    tu = index.parse(path, args=["-x", "c", "-std=c99"])
    errors = [d for d in tu.diagnostics if d.severity >= cindex.Diagnostic.Error]
    if errors:
        for d in errors:
            print("header: %s" % d)
        sys.exit("doc_check: %s does not parse" % path)
    constants = defined_constants(path)
    main = os.path.realpath(path)
    problems, count = [], 0
    for c in tu.cursor.get_children():
        if c.kind != cindex.CursorKind.FUNCTION_DECL or c.location.file is None:
            continue
        if os.path.realpath(c.location.file.name) != main:
            continue
        count += 1
        name = c.spelling

        def bad(msg):
            problems.append("%s:%d: %s: %s" % (path, c.location.line, name, msg))

        if not c.raw_comment or not c.raw_comment.lstrip().startswith("/**"):
            bad("no /** doc comment */")
            continue
        text = comment_text(c.raw_comment)
        description, params, ret = split_tags(text)
        args = [a.spelling for a in c.get_arguments()]
        result = c.type.get_result()
        is_void = result.get_canonical().kind == cindex.TypeKind.VOID

        if not THREAD.search(description):
            bad('no thread-safety statement (a paragraph starting "Thread-safety:")')
        for p in params:
            if p not in args:
                bad("@param %s names no parameter" % p)
        if is_void:
            if ret is not None:
                bad("@return on a void function")
            if not NULL_BEHAVIOUR.search(text):
                bad('void function: say what happens with NULL input (e.g. "NULL is ignored")')
        else:
            if ret is None or not ret.strip():
                bad("no @return")
            elif not names_constant(ret, constants):
                bad("@return names no FWS_ code (e.g. FWS_OK, FWS_ERR_INVALID_ARGUMENT)")
            if is_pointer(cindex, result) and ret and not LIFETIME.search(ret):
                bad("returns a pointer but its @return has no lifetime word (lent, valid until, static storage, ...)")
        for a in c.get_arguments():
            if is_pointer_out(cindex, a.type):
                doc = params.get(a.spelling)
                if doc is None:
                    bad("pointer out-parameter %s has no @param" % a.spelling)
                elif not LIFETIME.search(doc):
                    bad("pointer out-parameter %s: its @param has no lifetime word (lent, owned, valid until, ...)"
                        % a.spelling)
    return count, problems


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    count, problems = check(argv[1])
    for p in problems:
        print(p)
    if count == 0:
        print("doc_check: no FWS_API function found in %s" % argv[1])
        return 1
    if problems:
        print("doc_check: %d problem(s) in the docs of %d functions" % (len(problems), count))
        return 1
    print("doc_check: %d functions, each with thread-safety, results and pointer lifetimes documented" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
