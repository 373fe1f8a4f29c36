#!/usr/bin/env python3
"""Count test results in meson testlog.json files.

usage: count-tests.py LABEL=BUILDDIR/meson-logs/testlog.json ...

A TAP test (Criterion with --tap=-) counts once per 'ok'/'not ok' line of
its stdout; a test that failed without reporting a 'not ok' (a crash, a
timeout, a bad plan) adds one failure.  Any other test counts once by its
result.  Prints one line per log and, last, "P F S" (passed, failed,
skipped) for the caller to total up.  A missing or unreadable log is one
failure.
"""
import json
import re
import sys

TAP_LINE = re.compile(r'^(not ok|ok)\b(.*)$')
GOOD = {'OK', 'EXPECTEDFAIL'}
SKIPPED = {'SKIP'}


def count_tap(stdout):
    passed = failed = skipped = 0
    for line in stdout.splitlines():
        m = TAP_LINE.match(line)
        if not m:
            continue
        directive = m.group(2).upper()
        if '# SKIP' in directive:
            skipped += 1
        elif m.group(1) == 'ok' or '# TODO' in directive:
            passed += 1
        else:
            failed += 1
    return passed, failed, skipped


def count_log(path):
    passed = failed = skipped = 0
    bad = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            t = json.loads(raw)
            result = t.get('result', 'ERROR')
            p, fl, s = count_tap(t.get('stdout') or '')
            if p + fl + s > 0:
                if result not in GOOD and result not in SKIPPED and fl == 0:
                    fl = 1
            elif result in GOOD:
                p = 1
            elif result in SKIPPED:
                s = 1
            else:
                fl = 1
            if fl:
                bad.append('%s (%s)' % (t.get('name', '?'), result))
            passed += p
            failed += fl
            skipped += s
    return passed, failed, skipped, bad


def main(args):
    tp = tf = ts = 0
    for arg in args:
        label, _, path = arg.partition('=')
        try:
            p, f, s, bad = count_log(path)
        except (OSError, ValueError) as e:
            print('%-8s no usable test log (%s): 1 failure' % (label, e))
            tf += 1
            continue
        print('%-8s %d passed, %d failed, %d skipped%s' % (
            label, p, f, s, ('  [' + ', '.join(bad) + ']') if bad else ''))
        tp += p
        tf += f
        ts += s
    print(tp, tf, ts)


if __name__ == '__main__':
    main(sys.argv[1:])
