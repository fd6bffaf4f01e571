#!/usr/bin/env python3
"""fnlen.py [ROOT] [LIMIT] -- long functions and long files under ROOT/src.

Prints every function longer than LIMIT lines (default 150; from the first
line of its signature to its closing brace) as "LINES FILE:LINE NAME", and
every .c file over 1,000 lines as "FILE PATH N lines" (STYLE.md: one
concept per file, usually 200-1000 lines; issue #11: no function over ~150
lines without a reason written at its top). A heuristic over the text, with
comments and strings blanked: a function is a brace at the start of a line
at file level. Exits 0; it reports, the reader judges.
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else '.'
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 150
def strip(t):
    t = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), t, flags=re.S)
    t = re.sub(r'//[^\n]*', '', t)
    t = re.sub(r'"(\\.|[^"\\\n])*"', '""', t)
    t = re.sub(r"'(\\.|[^'\\\n])*'", "''", t)
    return t
for d, _, fs in os.walk(os.path.join(root, 'src')):
    for f in sorted(fs):
        if not f.endswith('.c'): continue
        p = os.path.join(d, f); raw = open(p, errors='replace').read()
        n = raw.count('\n')
        if n > 1000: print(f'FILE {p} {n} lines')
        lines = strip(raw).split('\n')
        depth = 0; start = None; name = None
        for i, l in enumerate(lines):
            if depth == 0 and l.startswith('{'):
                # name: look back for identifier before '('
                j = i - 1
                while j >= 0 and '(' not in lines[j]: j -= 1
                m = re.search(r'(\w+)\s*\(', lines[j]) if j >= 0 else None
                name = m.group(1) if m else '?'
                k = j
                while k > 0 and lines[k-1].strip() and not lines[k-1].rstrip().endswith((';', '}')) and not lines[k-1].startswith('#'): k -= 1
                start = k
            depth += l.count('{') - l.count('}')
            if depth == 0 and start is not None and '}' in l:
                ln = i - start + 1
                if ln > limit: print(f'{ln:5d} {p}:{start+1} {name}')
                start = None
