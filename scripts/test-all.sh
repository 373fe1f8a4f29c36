#!/usr/bin/env bash
# The whole CI run: install what is missing, then build and test kvmem
#   gcc   -Werror, whole suite                 ($KVMEM_BUILD_ROOT/gcc)
#   clang -Werror, whole suite                 ($KVMEM_BUILD_ROOT/clang)
#   gcc ASan+UBSan (halt_on_error), whole suite ($KVMEM_BUILD_ROOT/asan)
#   gcc ThreadSanitizer, suite 'threads'       ($KVMEM_BUILD_ROOT/tsan)
#   mandoc -Tlint over man/
# and print "N passed, N failed" as the last line (tests counted per TAP
# subtest from each build's meson-logs/testlog.json; a failed step counts
# as one failure).  Exits non-zero if anything failed.
#
# Environment: KVMEM_BUILD_ROOT (default: build), KVMEM_SKIP_SETUP=1 to
# skip the package check, KVMEM_JOBS (default: 2).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
src=$PWD
root=${KVMEM_BUILD_ROOT:-build}
jobs=${KVMEM_JOBS:-2}
python=/usr/bin/python3
[ -x "$python" ] || python=python3
start=$(date +%s)

step_failed=0
step_passed=0
logs=()
failures=()

note() { printf '\n==== %s\n' "$*"; }
step_fail() { step_failed=$((step_failed + 1)); failures+=("$1"); echo "FAILED: $1"; }

export CI=${CI:-true}
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

if [ "${KVMEM_SKIP_SETUP:-0}" != 1 ]; then
	note "setup"
	./scripts/setup.sh </dev/null || { step_fail "setup"; }
fi

# configure NAME CC CXX MESON-OPTIONS...: set up (or reconfigure) a build.
configure() {
	local name=$1 cc=$2 cxx=$3 dir=$root/$1
	shift 3
	note "$name: configure"
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" --wrap-mode=nodownload "$@" </dev/null
	else
		CC=$cc CXX=$cxx meson setup "$dir" --wrap-mode=nodownload "$@" </dev/null
	fi
}

# build_and_test NAME "MESON-TEST-ARGS" CC CXX MESON-OPTIONS...
build_and_test() {
	local name=$1 testargs=$2 dir=$root/$1
	shift 2
	rm -f "$dir/meson-logs/testlog.json"
	if ! configure "$name" "$@"; then
		step_fail "$name: configure"
		return
	fi
	note "$name: build"
	if ! ninja -C "$dir" -j "$jobs" </dev/null; then
		step_fail "$name: build"
		return
	fi
	note "$name: test $testargs"
	# shellcheck disable=SC2086
	if meson test -C "$dir" --no-rebuild --num-processes "$jobs" \
	    --print-errorlogs $testargs </dev/null; then
		:
	else
		failures+=("$name: meson test")
	fi
	logs+=("$name=$dir/meson-logs/testlog.json")
}

build_and_test gcc "" gcc g++ -Dwerror=true
build_and_test clang "" clang clang++ -Dwerror=true
build_and_test asan "--timeout-multiplier 3" gcc g++ \
    -Db_sanitize=address,undefined -Ddebug_checks=true -Dbench=disabled

# ThreadSanitizer: only the 'threads' suite, so build only its executables.
tsan=$root/tsan
rm -f "$tsan/meson-logs/testlog.json"
if configure tsan gcc g++ -Db_sanitize=thread -Dbench=disabled \
    -Dexamples=false -Dtools=false; then
	mapfile -t targets < <(meson introspect --tests "$tsan" | "$python" -c '
import json, os, sys
top = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin):
    if "threads" in t["suite"] or any(s.endswith(":threads") for s in t["suite"]):
        exe = os.path.realpath(t["cmd"][0])
        if exe.startswith(top + "/"):
            print(os.path.relpath(exe, top))
' "$tsan")
	if [ ${#targets[@]} -eq 0 ]; then
		note "tsan: no tests in suite 'threads' yet"
	else
		note "tsan: build ${targets[*]}"
		if ! ninja -C "$tsan" -j "$jobs" "${targets[@]}" </dev/null; then
			step_fail "tsan: build"
		else
			note "tsan: test --suite threads"
			# gcc 12's TSan runtime needs the classic address-space layout.
			if setarch "$(uname -m)" -R true 2>/dev/null; then
				wrap=(setarch "$(uname -m)" -R)
			else
				wrap=()
			fi
			if "${wrap[@]}" meson test -C "$tsan" --no-rebuild \
			    --num-processes "$jobs" --print-errorlogs \
			    --timeout-multiplier 5 --suite threads </dev/null; then
				:
			else
				failures+=("tsan: meson test")
			fi
			logs+=("tsan=$tsan/meson-logs/testlog.json")
		fi
	fi
else
	step_fail "tsan: configure"
fi

note "mandoc -Tlint"
shopt -s nullglob
pages=(man/*.[1-9])
shopt -u nullglob
if [ ${#pages[@]} -eq 0 ]; then
	step_fail "mandoc: no man pages in man/"
elif mandoc -Tlint -Wwarning "${pages[@]}"; then
	step_passed=$((step_passed + ${#pages[@]}))
	echo "clean: ${pages[*]}"
else
	step_fail "mandoc -Tlint"
fi

note "summary ($(( $(date +%s) - start )) s)"
counts=$("$python" "$src/scripts/count-tests.py" "${logs[@]}") || counts="0 1 0"
printf '%s\n' "$counts" | sed '$d'
read -r tp tf ts <<<"$(printf '%s\n' "$counts" | tail -n 1)"
tp=$(( ${tp:-0} + step_passed ))
tf=$(( ${tf:-0} + step_failed ))
for f in "${failures[@]}"; do echo "failed step: $f"; done
echo "skipped: ${ts:-0}"
if [ ${#failures[@]} -gt 0 ] && [ "$tf" -eq 0 ]; then
	tf=${#failures[@]}
fi
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
