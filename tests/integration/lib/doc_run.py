#!/usr/bin/python3
"""doc_run.py DOC.md WORKDIR [FROM=TO]...  -- run a page's console blocks, in order, and check their output shapes

Every fenced block whose info string is `console` is run; other blocks
(`sh`, `toml`, ...) are what the reader does on a real machine and the
test does its own way.  In a console block a line starting with `$ ` is a
command (continued while it ends with a backslash); the lines up to the
next command are the output the page shows.  All commands run in one
shell (bash, in WORKDIR, stderr folded into stdout), so variables set by
one are seen by the next.

Each command must exit 0, and its output must have the page's shape:
both are compared after FROM=TO replacements (the test's temporary paths
and ports become the page's defaults), with every hex run of 7 or more
characters read as <hex>, every number as <n> and runs of blanks as one.
A shown line `...` stands for any number of lines; without it the lines
must match one for one.  Prints each command and its output; exits 1 at
the first difference, naming the command.  With DOC_RUN_ALL=1 in the
environment it goes on past differences (to see every output when the page
is edited), still exiting 1 if any.
"""
import os
import re
import subprocess
import sys

MARK = "@@doc-run@@"


def blocks(text):
    """the commands of the console blocks: [(command, [shown output lines])]"""
    cmds, in_console, in_other = [], False, False
    for line in text.splitlines():
        if line.startswith("```"):
            if in_console or in_other:
                in_console = in_other = False
            elif line.strip() == "```console":
                in_console = True
            else:
                in_other = True
            continue
        if not in_console:
            continue
        if line.startswith("$ "):
            cmds.append([line[2:], []])
        elif cmds and cmds[-1][0].endswith("\\") and not cmds[-1][1]:
            cmds[-1][0] += "\n" + line
        elif cmds:
            cmds[-1][1].append(line)
        elif line.strip():
            raise SystemExit("doc_run: output before any command in a console block: %r" % line)
    return cmds


def shape(line, subst):
    for frm, to in subst:
        line = line.replace(frm, to)
    line = re.sub(r"[0-9a-f]{7,}", "<hex>", line)
    line = re.sub(r"[0-9]+(\.[0-9]+)?", "<n>", line)
    line = re.sub(r"<hex>(<n>|<hex>)+", "<hex>", line)
    return re.sub(r"\s+", " ", line).strip()


def matches(shown, got):
    """shown lines (with ... wildcards) against got lines, both shapes"""
    if not shown:
        return not got
    if shown[0] == "...":
        return any(matches(shown[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and shown[0] == got[0] and matches(shown[1:], got[1:])


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    doc, workdir = sys.argv[1], sys.argv[2]
    subst = [tuple(a.split("=", 1)) for a in sys.argv[3:]]
    cmds = blocks(open(doc).read())
    if not cmds:
        raise SystemExit("doc_run: %s has no console block" % doc)
    script = []
    for i, (cmd, _) in enumerate(cmds):
        script.append("printf '\\n%s begin %d\\n'" % (MARK, i))
        script.append("{ %s\n} 2>&1" % cmd)
        script.append("printf '\\n%s end %d %%d\\n' $?" % (MARK, i))
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = proc.stdout.decode(errors="replace").split("\n")
    results, cur, lines = {}, None, []
    for line in out:
        m = re.match(r"^%s (begin|end) (\d+)(?: (\d+))?$" % MARK, line)
        if m and m.group(1) == "begin":
            cur, lines = int(m.group(2)), []
        elif m:
            if lines and lines[-1] == "":
                lines.pop()  # the newline printed before the mark
            results[cur] = (int(m.group(3)), lines)
            cur = None
        elif cur is not None:
            lines.append(line)
    go_on, failed = os.environ.get("DOC_RUN_ALL") == "1", 0
    for i, (cmd, shown) in enumerate(cmds):
        print("$ " + cmd)
        if i not in results:
            print("FAIL: the command did not finish (the shell stopped before it)")
            return 1
        rc, got = results[i]
        for line in got:
            print("    " + line)
        if rc != 0:
            print("FAIL: exit %d" % rc)
            failed = 1
            if not go_on:
                return 1
        want = [shape(l, []) for l in shown if l.strip()]
        have = [shape(l, subst) for l in got if l.strip()]
        if not matches(want, have):
            print("FAIL: the output has another shape than the page shows; the page:")
            for line in shown:
                print("    " + line)
            failed = 1
            if not go_on:
                return 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
