#!/usr/bin/env bash
# Install the Debian 12 packages kvmem needs to build, test and benchmark.
#
# Idempotent and non-interactive: refreshes the package lists, then installs
# only what is missing.  Run as root (or with sudo available).  Exits
# non-zero if a required package cannot be installed.
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc g++ clang libc6-dev binutils
	libcriterion-dev libbenchmark-dev libjemalloc-dev
	libmimalloc-dev libgoogle-perftools-dev
	mandoc gnuplot-nox valgrind
)

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo)
else
	sudo=()
fi

# dpkg-query prints "install ok installed" only for fully installed packages.
missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
echo "setup: apt-get update" >&2
if ! "${sudo[@]}" apt-get update -qq </dev/null; then
	if [ ${#missing[@]} -ne 0 ]; then
		echo "setup: apt-get update failed and packages are missing: ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: apt-get update failed; every package is installed, going on" >&2
fi

if [ ${#missing[@]} -ne 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get install -y -qq "${missing[@]}" </dev/null
else
	echo "setup: all ${#packages[@]} packages present" >&2
fi
