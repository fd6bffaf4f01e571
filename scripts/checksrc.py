#!/usr/bin/env python3
"""checksrc.py -- fail on banned calls in the C sources (after curl's checksrc).

    scripts/checksrc.py [ROOT]      check ROOT/src and ROOT/include (and
                                    ROOT/python/src, tests, bench, fuzz
                                    and examples for ERRINIT)
    scripts/checksrc.py --self-test check the checker on built-in samples

The rules (ALLOC and UNSAFE are lists of function names that must not
be called):

* ALLOC: raw allocation. Library code (src/ except the front doors
  src/cli and src/server, which are clients of the public API) allocates
  through am__alloc / am__realloc / am__free and friends, which take the
  handle's allocator: a user allocator then sees every allocation, and the
  tests' failing allocator reaches every path in the OOM sweeps. Only the
  default allocator (src/core/alloc.c) calls malloc. zstd contexts are
  made with the _advanced constructors and the handle's allocator, and
  JSON is written with am__json_dump (json_dumps returns malloc memory).
* UNSAFE: string and number calls that overflow a buffer, keep hidden
  state or ignore errors (strcpy, sprintf, strtok, atoi, ...), banned in
  every file under src/ and include/. Use memcpy with a known length,
  snprintf, strtok_r, strtoll/strtod with an errno and end check.

* DEFAULT: the default allocator reached by accident, in the files the
  ALLOC rule covers. A call that passes a literal NULL as the allocator to
  an internal function whose first parameter is one (am__alloc,
  am__strndup, am__mkdir_p ...: the list is read from the headers under
  src/, every `am__name(const am_allocator *` prototype), and an am_buf
  made with AM_BUF_INIT (whose NULL allocator means the default) that is
  not given one (`name.alloc = ...`) before its block ends. Pass the
  handle's allocator; where there is no handle, say so with an opt-out.

* ERRINIT: an am_error local declared without an initializer, or as
  {0}, in src/, include/, python/src/, tests/, bench/, fuzz/ and
  examples/. Write `am_error e = { AM_OK,
  "" };`, the value status.h documents for "no error" (what
  am_error_clear writes): calls write it only on failure, and code that
  reads e.code afterwards to tell whether a failure was recorded would
  otherwise read stack junk. Struct members are not locals and are left
  alone.

Comments and string literals are ignored. A line may opt out with a
comment holding "checksrc: allow NAME" and the reason, for the rare call
that is right; the comment counts for its own line and the next one, so
it may sit just above the line it excuses. Exit status 1 lists every finding as
file:line: NAME: why.
"""
import os
import re
import sys

ALLOC = {
    "malloc": "use am__alloc with the handle's allocator",
    "calloc": "use am__calloc with the handle's allocator",
    "realloc": "use am__realloc or am__grow with the handle's allocator",
    "free": "use am__free with the handle's allocator",
    "strdup": "use am__strndup with the handle's allocator",
    "strndup": "use am__strndup with the handle's allocator",
    "reallocarray": "use am__grow with the handle's allocator",
    "aligned_alloc": "use am__alloc with the handle's allocator",
    "posix_memalign": "use am__alloc with the handle's allocator",
    "valloc": "use am__alloc with the handle's allocator",
    "asprintf": "format into an am_buf (am_buf_appendf)",
    "vasprintf": "format into an am_buf",
    "json_dumps": "use am__json_dump (json_dumps allocates with malloc)",
    "ZSTD_createCCtx": "use ZSTD_createCCtx_advanced with the handle's "
                       "allocator",
    "ZSTD_createDCtx": "use ZSTD_createDCtx_advanced with the handle's "
                       "allocator",
    "ZSTD_createCStream": "use the _advanced form with the handle's allocator",
    "ZSTD_createDStream": "use the _advanced form with the handle's allocator",
}
UNSAFE = {
    "strcpy": "no length: use memcpy with a checked length",
    "stpcpy": "no length: use memcpy with a checked length",
    "strcat": "no length: use memcpy or an am_buf",
    "strncpy": "may leave no NUL: use memcpy with a checked length",
    "strncat": "easy to get wrong: use memcpy or an am_buf",
    "sprintf": "no length: use snprintf",
    "vsprintf": "no length: use vsnprintf",
    "gets": "no length: use fgets or getline",
    "strtok": "hidden state, not thread-safe: use strtok_r or a scan",
    "atoi": "ignores errors and overflow: use strtol with checks",
    "atol": "ignores errors and overflow: use strtol with checks",
    "atoll": "ignores errors and overflow: use strtoll with checks",
    "atof": "ignores errors: use strtod with checks",
    "tmpnam": "racy: use mkstemp",
    "tempnam": "racy: use mkstemp",
    "mktemp": "racy: use mkstemp",
    "alloca": "unbounded stack: use a fixed array or the allocator",
}
# Where the ALLOC rule does not apply: the default allocator itself, and
# the front doors, which may only use the public API (they free what
# jansson's json_dumps returns, for example).
ALLOC_EXEMPT_FILES = {"src/core/alloc.c"}
ALLOC_EXEMPT_DIRS = ("src/cli/", "src/server/")

CALL = re.compile(r"(?<![A-Za-z0-9_>.])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
NULL_ALLOC = re.compile(r"(?<![A-Za-z0-9_>.])(am__[A-Za-z0-9_]+)\s*\(\s*NULL"
                        r"\s*[,)]")
BUF_INIT = re.compile(r"\bAM_BUF_INIT\b")
# `x = AM_BUF_INIT` or `p->x = (am_buf)AM_BUF_INIT`: the name to look for.
BUF_DECL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\s*(?:->|\.)\s*"
                      r"[A-Za-z_][A-Za-z0-9_]*)*)\s*=\s*(?:\(\s*am_buf\s*\)"
                      r"\s*)?$")
ALLOC_PROTO = re.compile(r"\b(am__[A-Za-z0-9_]+)\s*\(\s*const\s+am_allocator"
                         r"\s*\*")
DEFAULT_WHY = {
    "null": "passes NULL, the default allocator: pass the handle's",
    "buf": "this am_buf keeps the default allocator: set its .alloc to "
           "the handle's",
}
ALLOW = re.compile(r"checksrc:\s*allow\s+([A-Za-z0-9_]+)")
# `am_error name;` or `am_error name = {0};` (the ERRINIT rule).
ERR_DECL = re.compile(r"^[ \t]*(?:static[ \t]+)?am_error[ \t]+"
                      r"[A-Za-z_][A-Za-z0-9_]*[ \t]*(?:;|=[ \t]*\{[ \t]*0"
                      r"[ \t]*\}[ \t]*;)", re.M)
# Trees checked for ERRINIT alone.
ERRINIT_ONLY = ("python/", "tests/", "bench/", "fuzz/", "examples/")
ERR_WHY = "initialise as { AM_OK, \"\" } (status.h: what am_error_clear writes)"


def strip(text):
    """Blank out comments, string and character literals, keeping newlines
    (so line numbers stay) and the opt-out markers of each line."""
    out = []
    allows = {}
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            chunk = text[i:j]
            for m in ALLOW.finditer(chunk):
                at = line + chunk[:m.start()].count("\n")
                end = line + chunk.count("\n")
                for ln in range(at, end + 2):
                    allows.setdefault(ln, set()).add(m.group(1))
            out.append(re.sub(r"[^\n]", " ", chunk))
            line += chunk.count("\n")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for m in ALLOW.finditer(text[i:j]):
                for ln in (line, line + 1):
                    allows.setdefault(ln, set()).add(m.group(1))
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else c)
            i = j
        else:
            if c == "\n":
                line += 1
            out.append(c)
            i += 1
    return "".join(out), allows


def block_end(code, pos):
    """Index of the brace that closes the block `pos` is in (or the end)."""
    depth = 0
    for i in range(pos, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth < 0:
                return i
    return len(code)


def struct_init(code, pos):
    """For an AM_BUF_INIT at `pos` inside `name = { ... }`: (name, the
    number of AM_BUF_INITs in that initializer, the index after it), or
    None."""
    open_ = code.rfind("{", 0, pos)
    if open_ < 0 or code.rfind("}", 0, pos) > open_:
        return None
    d = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*$", code[:open_])
    close = code.find("}", pos)
    if d is None or close < 0:
        return None
    return (d.group(1), len(BUF_INIT.findall(code, open_, close)),
            close + 1)


def default_findings(code, alloc_fns):
    """(line, name, why) of the DEFAULT rule in stripped code."""
    found = []
    for m in NULL_ALLOC.finditer(code):
        if m.group(1) in alloc_fns:
            found.append((code.count("\n", 0, m.start()) + 1, m.group(1),
                          DEFAULT_WHY["null"]))
    for m in BUF_INIT.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        start = code.rfind("\n", 0, m.start()) + 1
        d = BUF_DECL.search(code[start:m.start()])
        s = struct_init(code, m.start())
        if d is None and s is not None:
            # `x = { AM_BUF_INIT, AM_BUF_INIT }`: as many of x's members
            # given an allocator (x.m.alloc = ...) as buffers made.
            name, k, after = s
            given = set(re.findall(r"(?<![A-Za-z0-9_])" + re.escape(name) +
                                   r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\."
                                   r"\s*alloc\s*=(?!=)",
                                   code[after:block_end(code, after)]))
            if len(given) >= k:
                continue
        if d is not None:
            name = re.escape(re.sub(r"\s+", "", d.group(1)))
            name = name.replace("\\-\\>", r"\s*->\s*").replace(
                "\\.", r"\s*\.\s*")
            given = re.compile(r"(?<![A-Za-z0-9_])" + name +
                               r"\s*\.\s*alloc\s*=(?!=)")
            if given.search(code, m.end(), block_end(code, m.end())):
                continue
        found.append((line, "AM_BUF_INIT", DEFAULT_WHY["buf"]))
    return found


def in_struct(code, pos):
    """Whether `pos` is directly inside a struct or union body."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        if code[i] == "}":
            depth += 1
        elif code[i] == "{":
            if depth == 0:
                head = code[code.rfind(";", 0, i) + 1:i]
                head = head[head.rfind("}") + 1:]
                return re.search(r"\b(struct|union)\b", head) is not None
            depth -= 1
    return False


def errinit_findings(code):
    """(line, name, why) of the ERRINIT rule in stripped code."""
    found = []
    for m in ERR_DECL.finditer(code):
        if not in_struct(code, m.start()):
            found.append((code.count("\n", 0, m.start()) + 1, "am_error",
                          ERR_WHY))
    return found


def check_text(rel, text, alloc_fns=frozenset()):
    """Findings (rel, line, name, why) for one file's text."""
    code, allows = strip(text)
    rel = rel.replace(os.sep, "/")
    alloc_rule = (rel.startswith("src/") and rel not in ALLOC_EXEMPT_FILES
                  and not rel.startswith(ALLOC_EXEMPT_DIRS))
    found = []
    # The Python extension (it allocates with PyMem_*, outside the
    # library's allocator rules), the tests, benchmarks, fuzzers and
    # examples are held to ERRINIT only.
    calls = code.split("\n") if not rel.startswith(ERRINIT_ONLY) else []
    for lineno, src in enumerate(calls, 1):
        for m in CALL.finditer(src):
            name = m.group(1)
            why = UNSAFE.get(name) or (ALLOC.get(name) if alloc_rule
                                        else None)
            if why is None or name in allows.get(lineno, ()):
                continue
            found.append((rel, lineno, name, why))
    if alloc_rule:
        for lineno, name, why in default_findings(code, alloc_fns):
            if name not in allows.get(lineno, ()):
                found.append((rel, lineno, name, why))
    for lineno, name, why in errinit_findings(code):
        if name not in allows.get(lineno, ()):
            found.append((rel, lineno, name, why))
    found.sort(key=lambda f: f[1])
    return found


def allocator_functions(root):
    """Internal functions whose first parameter is an allocator, from the
    prototypes in the headers under src/."""
    names = set()
    for dirpath, _, filenames in os.walk(os.path.join(root, "src")):
        for f in filenames:
            if f.endswith(".h"):
                with open(os.path.join(dirpath, f), encoding="utf-8",
                          errors="replace") as fp:
                    code, _ = strip(fp.read())
                names.update(ALLOC_PROTO.findall(code))
    return frozenset(names)


def check_tree(root):
    found = []
    alloc_fns = allocator_functions(root)
    for top in ("src", "include", "python/src", "tests", "bench", "fuzz",
                "examples"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                with open(path, encoding="utf-8", errors="replace") as fp:
                    text = fp.read()
                found += check_text(os.path.relpath(path, root), text,
                                    alloc_fns)
    return found


SELF_TEST = [
    # (file, text, names expected on lines 1.., in order)
    ("src/x/a.c", "p = malloc(n);\n", [(1, "malloc")]),
    ("src/x/a.c", "free(p);\nq = realloc (p, 2);\n",
     [(1, "free"), (2, "realloc")]),
    ("src/x/a.c", "char *s = strdup(t);\n", [(1, "strdup")]),
    ("src/x/a.c", "z = ZSTD_createCCtx();\n", [(1, "ZSTD_createCCtx")]),
    ("src/x/a.c", "char *j = json_dumps(v, 0);\n", [(1, "json_dumps")]),
    ("src/x/a.c", "strcpy(a, b); sprintf(a, \"%d\", 1);\n",
     [(1, "strcpy"), (1, "sprintf")]),
    ("src/x/a.c", "n = atoi(s);\nt = strtok(s, \",\");\n",
     [(1, "atoi"), (2, "strtok")]),
    # Not calls: comments, strings, members, wrappers, declarations.
    ("src/x/a.c", "/* malloc(n) and free(p) */\n", []),
    ("src/x/a.c", "// strcpy(a, b)\n", []),
    ("src/x/a.c", "puts(\"free(p) sprintf(x)\");\n", []),
    ("src/x/a.c", "a->free(a->ctx, p, n);\ns.malloc(1);\n", []),
    ("src/x/a.c", "am__free(a, p, n); my_malloc(3); snprintf(b, 4, \"\");\n",
     []),
    ("src/x/a.c", "void *(*malloc)(size_t);\n", []),
    ("src/x/a.c", "z = ZSTD_createCCtx_advanced(mem);\n", []),
    ("src/x/a.c", "x = strcpy(a, b); /* checksrc: allow strcpy: why */\n",
     []),
    # The allocation rule spares the allocator and the front doors, the
    # string rule does not.
    ("src/core/alloc.c", "return malloc(size);\n", []),
    ("src/cli/main.c", "free(text);\n", []),
    ("src/server/srv.c", "free(text); strcpy(a, b);\n", [(1, "strcpy")]),
    ("include/agentmem/x.h", "#define AM_X(s) atoi(s)\n", [(1, "atoi")]),
    # DEFAULT: NULL as the allocator, and buffers never given one.
    ("src/x/a.c", "p = am__alloc(NULL, 4);\nam__free(NULL, p, 4);\n",
     [(1, "am__alloc"), (2, "am__free")]),
    ("src/x/a.c", "p = am__alloc(s->alloc, 4); am__words(NULL, 0);\n", []),
    ("src/x/a.c", "p = am__alloc(NULL, 4); /* checksrc: allow am__alloc: "
     "no handle */\n", []),
    ("src/x/a.c", "void f(void)\n{\n    am_buf b = AM_BUF_INIT;\n"
     "    use(&b);\n}\n", [(3, "AM_BUF_INIT")]),
    ("src/x/a.c", "void f(void)\n{\n    am_buf a = AM_BUF_INIT, b = "
     "AM_BUF_INIT;\n    a.alloc = b.alloc = s->alloc;\n}\n", []),
    ("src/x/a.c", "void f(void)\n{\n    am_buf a = AM_BUF_INIT,\n"
     "           b = AM_BUF_INIT;\n    a.alloc = s->alloc;\n}\n",
     [(4, "AM_BUF_INIT")]),
    # Given in another function does not count.
    ("src/x/a.c", "void f(void)\n{\n    am_buf b = AM_BUF_INIT;\n}\n"
     "void g(void)\n{\n    b.alloc = a;\n}\n", [(3, "AM_BUF_INIT")]),
    ("src/x/a.c", "v->text = (am_buf)AM_BUF_INIT;\nv->text.alloc = a;\n",
     []),
    ("src/x/a.c", "x = (am_buf)AM_BUF_INIT; /* checksrc: allow AM_BUF_INIT: "
     "a view */\n", []),
    # An opt-out just above the line counts; two lines above does not.
    ("src/x/a.c", "/* A view: no storage.\n * checksrc: allow AM_BUF_INIT */"
     "\nx = (am_buf)AM_BUF_INIT;\n", []),
    ("src/x/a.c", "/* checksrc: allow AM_BUF_INIT */\n\n"
     "x = (am_buf)AM_BUF_INIT;\n", [(3, "AM_BUF_INIT")]),
    ("src/cli/a.c", "am_buf b = AM_BUF_INIT; p = am__alloc(NULL, 1);\n", []),
    # A struct of buffers: each member given one, or a finding.
    ("src/x/a.c", "void f(void)\n{\n    bufs b = { AM_BUF_INIT, AM_BUF_INIT };"
     "\n    b.x.alloc = b.y.alloc = a;\n}\n", []),
    ("src/x/a.c", "void f(void)\n{\n    bufs b = { AM_BUF_INIT, AM_BUF_INIT };"
     "\n    b.x.alloc = a;\n}\n", [(3, "AM_BUF_INIT"), (3, "AM_BUF_INIT")]),
    # ERRINIT: locals start as { AM_OK, "" }; struct members are no locals.
    ("src/x/a.c", "void f(void)\n{\n    am_error e;\n    am_error z = {0};"
     "\n    am_error ok = { AM_OK, \"\" };\n}\n",
     [(3, "am_error"), (4, "am_error")]),
    ("src/x/a.c", "typedef struct s {\n    am_error err;\n} s;\n"
     "struct t {\n    int n;\n    struct { int a; } u;\n    am_error e;\n};"
     "\n", []),
    ("src/x/a.c", "void f(void)\n{\n    if (x) {\n        am_error e;\n"
     "    }\n}\n", [(4, "am_error")]),
    ("tests/test_x.c", "    am_error err;\n    strcpy(a, b);\n",
     [(1, "am_error")]),
    ("python/src/py_x.c", "    am_error err = { 0 };\n    strcpy(a, b);\n",
     [(1, "am_error")]),
    ("src/tiers/x.c", "    am_error e;\n", [(1, "am_error")]),
]


def self_test():
    bad = 0
    for rel, text, want in SELF_TEST:
        got = [(line, name) for _, line, name, _ in
               check_text(rel, text, frozenset({"am__alloc", "am__free"}))]
        if got != want:
            print("checksrc self-test: %s %r: found %r, expected %r"
                  % (rel, text, got, want))
            bad += 1
    if bad:
        return 1
    print("checksrc self-test: %d cases pass" % len(SELF_TEST))
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print("usage: %s [ROOT] | --self-test" % argv[0], file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    if not os.path.isdir(os.path.join(root, "src")):
        print("checksrc: no src/ under %s" % root, file=sys.stderr)
        return 2
    found = check_tree(root)
    for rel, line, name, why in found:
        print("%s:%d: %s: %s" % (rel, line, name, why))
    if found:
        print("checksrc: %d banned call(s); see scripts/checksrc.py"
              % len(found))
        return 1
    print("checksrc: clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
