#!/usr/bin/env python3
"""apiref.py -- the API reference, one Markdown page per public header.

    python3 scripts/apiref.py [--check] include/agentmem OUT_DIR

Every header under include/agentmem/ becomes OUT_DIR/<header>.md: the
header's opening comment (what the module is), then each AM_API function
with its declaration and the comment written above it (the contract:
ownership, errors, thread safety), in header order. Declarations that
follow one another directly share the comment above the first (as
am_ns_user, am_ns_session and am_ns_global do). OUT_DIR/index.md lists the
pages.

The reference is generated from the headers, so it cannot drift from
them. It names (file and line) every public function with no comment at
all, and with --check (the test test_apiref) that is a failure: the
headers are the documentation, and a function without one is a bug
(STYLE.md). The build only warns, so as not to stop other work.
"""
import os
import re
import sys


def comment_text(block):
    """The text of a /* ... */ block, without the comment markers."""
    lines = block.strip()[2:-2].splitlines()
    out = []
    for line in lines:
        line = line.strip()
        if line.startswith('*'):
            line = line[1:]
            if line.startswith(' '):
                line = line[1:]
        out.append(line)
    return '\n'.join(out).strip()


def parse(path):
    """(intro, [(name, declaration, comment, line)], [undocumented])"""
    text = open(path, encoding='utf-8').read()
    lines = text.split('\n')
    m = re.match(r'\s*(/\*.*?\*/)', text, re.S)
    intro = comment_text(m.group(1)) if m else ''
    funcs, missing = [], []
    last_comment, last_comment_end, prev_decl_end = None, -2, -2
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith('/*'):
            start = i
            while '*/' not in lines[i]:
                i += 1
            last_comment = '\n'.join(lines[start:i + 1])
            last_comment_end = i
            i += 1
            continue
        if stripped.startswith('AM_API') and '(' in stripped:
            start = i
            while ';' not in lines[i] and '{' not in lines[i]:
                i += 1
            decl = '\n'.join(lines[start:i + 1]).strip()
            decl = re.sub(r'\s*\{.*$', ';', decl, flags=re.S)
            name = re.search(r'(\w+)\s*\(', decl.replace('AM_API', ''))
            name = name.group(1) if name else '?'
            if last_comment_end == start - 1:
                doc = comment_text(last_comment)
            elif prev_decl_end == start - 1 and funcs:
                doc = funcs[-1][2]          # a group under one comment
            else:
                doc = None
                missing.append('%s:%d: %s has no doc comment'
                               % (path, start + 1, name))
            funcs.append((name, decl, doc or '', start + 1))
            prev_decl_end = i
        i += 1
    return intro, funcs, missing


def main():
    args = sys.argv[1:]
    check = args[:1] == ['--check']
    if check:
        args = args[1:]
    if len(args) != 2:
        sys.exit('usage: apiref.py [--check] INCLUDE_DIR OUT_DIR')
    inc, out = args
    os.makedirs(out, exist_ok=True)
    headers = sorted(h for h in os.listdir(inc) if h.endswith('.h'))
    index, missing = [], []
    for h in headers:
        intro, funcs, miss = parse(os.path.join(inc, h))
        missing += miss
        page = ['# agentmem/%s' % h, '', intro, '']
        if funcs:
            page += ['## Functions', '']
            page += ['- [`%s`](#%s)' % (f[0], f[0].lower()) for f in funcs]
            page.append('')
        for name, decl, doc, _ in funcs:
            page += ['### %s' % name, '', '```c', decl, '```', '', doc, '']
        with open(os.path.join(out, h[:-2] + '.md'), 'w',
                  encoding='utf-8') as f:
            f.write('\n'.join(page))
        summary = intro.split('\n')[0] if intro else h
        index.append('- [agentmem/%s](%s.md): %s (%d functions)'
                     % (h, h[:-2], summary.split(' -- ', 1)[-1], len(funcs)))
    with open(os.path.join(out, 'index.md'), 'w', encoding='utf-8') as f:
        f.write('# agentmem API reference\n\nGenerated from the public '
                'headers by scripts/apiref.py; one page per header.\n\n'
                + '\n'.join(index) + '\n')
    for m in missing:
        print(('' if check else 'warning: ') + m, file=sys.stderr)
    if missing and check:
        sys.exit(1)


if __name__ == '__main__':
    main()
