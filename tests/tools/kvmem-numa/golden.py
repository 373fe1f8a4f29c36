#!/usr/bin/python3
"""Test driver for kvmem-numa (run by meson from tests/tools/kvmem-numa).

  golden.py golden EXE SRCDIR GOLDEN -- ARGS...
      run EXE ARGS in SRCDIR; stdout must equal SRCDIR/GOLDEN byte for byte
  golden.py exit EXE SRCDIR CODE STREAM TEXT -- ARGS...
      EXE ARGS must exit with CODE and print TEXT on STREAM (stdout|stderr)
  golden.py plot EXE SRCDIR PREFIX -- ARGS...
      run with --plot into a temporary directory; the .dat files and numa.gp
      must equal SRCDIR/PREFIX<name>; each PNG must start with the PNG
      signature (skipped, exit 77, when gnuplot is not installed)
  golden.py segments EXE SRCDIR FILE GOLDEN -- ARGS...
      run with --segments into a temporary directory; FILE must equal GOLDEN

Regenerate the expected files with KVMEM_GOLDEN_UPDATE=1 meson test -C BUILD
--suite tools, then review the diff (git diff tests/tools/kvmem-numa).
"""
import difflib, os, shutil, subprocess, sys, tempfile

UPDATE = os.environ.get('KVMEM_GOLDEN_UPDATE') == '1'


def run(exe, srcdir, args):
    p = subprocess.run([exe] + args, cwd=srcdir, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def compare(path, actual, label):
    """0 if actual equals the file at path (or it was rewritten), else 1 with a diff."""
    if UPDATE:
        with open(path, 'w') as f:
            f.write(actual)
        print('updated', path)
        return 0
    try:
        with open(path) as f:
            expected = f.read()
    except OSError as e:
        print('cannot read %s: %s' % (path, e))
        return 1
    if expected == actual:
        return 0
    print('%s differs from %s:' % (label, path))
    sys.stdout.writelines(difflib.unified_diff(
        expected.splitlines(True), actual.splitlines(True), path, label))
    print('(KVMEM_GOLDEN_UPDATE=1 rewrites the expected files)')
    return 1


def main(argv):
    if '--' not in argv:
        print('usage: see the docstring of golden.py')
        return 2
    sep = argv.index('--')
    head, args = argv[1:sep], argv[sep + 1:]
    mode, exe, srcdir = head[0], os.path.abspath(head[1]), head[2]
    if mode == 'golden':
        rc, out, err = run(exe, srcdir, args)
        if rc != 0:
            print('exit status %d, stderr:\n%s' % (rc, err))
            return 1
        return compare(os.path.join(srcdir, head[3]), out, 'kvmem-numa ' + ' '.join(args))
    if mode == 'exit':
        code, stream, text = int(head[3]), head[4], head[5]
        rc, out, err = run(exe, srcdir, args)
        got = out if stream == 'stdout' else err
        ok = rc == code and text in got
        if not ok:
            print('expected exit %d and %r on %s; got exit %d\nstdout:\n%s\nstderr:\n%s'
                  % (code, text, stream, rc, out, err))
        return 0 if ok else 1
    if mode == 'plot':
        prefix = head[3]
        tmp = tempfile.mkdtemp(prefix='kvmem-numa-plot.')
        try:
            rc, out, err = run(exe, srcdir, args + ['--plot', tmp])
            have = shutil.which('gnuplot') is not None
            if have and rc != 0:
                print('exit status %d, stderr:\n%s' % (rc, err))
                return 1
            bad = 0
            for name in ('numa-local.dat', 'numa-domains.dat', 'numa-promotion.dat', 'numa.gp'):
                try:
                    with open(os.path.join(tmp, name)) as f:
                        data = f.read()
                except OSError as e:
                    print('%s not written: %s' % (name, e))
                    bad = 1
                    continue
                bad |= compare(os.path.join(srcdir, prefix + name), data, name)
            if not have:
                print('gnuplot not installed: PNGs not checked')
                return 1 if bad else 77
            for name in ('numa-local.png', 'numa-domains.png', 'numa-promotion.png'):
                try:
                    with open(os.path.join(tmp, name), 'rb') as f:
                        sig = f.read(8)
                except OSError as e:
                    print('%s not written: %s' % (name, e))
                    bad = 1
                    continue
                if sig != b'\x89PNG\r\n\x1a\n':
                    print('%s is not a PNG' % name)
                    bad = 1
            return bad
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if mode == 'segments':
        tmp = tempfile.mkdtemp(prefix='kvmem-numa-seg.')
        try:
            rc, out, err = run(exe, srcdir, args + ['--segments', tmp])
            if rc != 0:
                print('exit status %d, stderr:\n%s' % (rc, err))
                return 1
            try:
                with open(os.path.join(tmp, head[3])) as f:
                    data = f.read()
            except OSError as e:
                print('%s not written: %s' % (head[3], e))
                return 1
            return compare(os.path.join(srcdir, head[4]), data, head[3])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print('unknown mode', mode)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
