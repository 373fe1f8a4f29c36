// shim.cc -- registers the C workload tables with Google Benchmark and runs
// them; also the instruction-count mode for callgrind.
//
// kvmem-bench [--kb-full] [Google Benchmark flags]
//     Time every workload.  Each registered benchmark calls the workload's
//     run() in batches (KeepRunningBatch), so one iteration is one operation
//     and the reported time is per operation.  Workloads with a prepare()
//     step are timed by the shim around run() only (monotonic clock, through
//     UseManualTime: use their real_time); for the others use cpu_time.
// kvmem-bench [--kb-full] --kb-list
//     One line per workload: name, row, sweep, value, impl, callgrind-core
//     flag (0/1), callgrind op count.
// kvmem-bench --kb-info
//     Versions and build facts for report headers (key<TAB>value).
// kvmem-bench --callgrind-workload NAME [--ops N]
//     Set NAME up, then run N operations with callgrind collection switched
//     on around the run() calls only (start valgrind with
//     --instr-atstart=no --collect-atstart=no).  Prints
//     "kb-callgrind<TAB>NAME<TAB>N".

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <gnu/libc-version.h>

#include "bench.h"

#ifdef KB_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#endif

#ifdef KB_HAVE_JEMALLOC
extern "C" const char *kb_jemalloc_version(void);
#endif

#ifndef KB_KVMEM_VERSION
#define KB_KVMEM_VERSION "unknown"
#endif
#ifndef KB_BENCHMARK_VERSION
#define KB_BENCHMARK_VERSION "unknown"
#endif

namespace {

const uint64_t kDefaultBatch = 256;
const uint64_t kDefaultCgOps = 100000;

struct Entry {
	const kb_workload *w;
	std::string name;
};

std::vector<Entry> entries;

// The one live state: kept between calls while the next benchmark uses the
// same setup, torn down when another setup is needed.
struct Cache {
	const kb_workload *owner = nullptr;
	void *state = nullptr;
} cache;

bool same_setup(const kb_workload *a, const kb_workload *b)
{
	return a->setup == b->setup && a->teardown == b->teardown &&
	    std::memcmp(a->p, b->p, sizeof(a->p)) == 0;
}

void cache_drop()
{
	if (cache.state != nullptr)
		cache.owner->teardown(cache.state);
	cache.state = nullptr;
	cache.owner = nullptr;
}

// The state for w, from the cache or freshly set up; nullptr if setup failed.
void *cache_get(const kb_workload *w)
{
	if (cache.state != nullptr && same_setup(cache.owner, w))
		return cache.state;
	cache_drop();
	cache.state = w->setup(w->p);
	if (cache.state != nullptr)
		cache.owner = w;
	return cache.state;
}

std::string entry_name(const kb_workload *w)
{
	std::string n = w->row;

	if (w->sweep != nullptr)
		n += std::string("/") + w->sweep + ":" + w->value;
	return n + "/" + w->impl;
}

void add_table(const kb_workload *t, bool full)
{
	for (; t->row != nullptr; t++)
		if (full || !(t->flags & KB_FULL))
			entries.push_back(Entry{t, entry_name(t)});
}

// Manual timing uses the monotonic clock: it is read through the vDSO (about
// 25 ns here), while a thread CPU clock read is a system call (over 1 us on
// these VMs) and would swamp batches of 100 operations.
double now_seconds()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// The smallest cost of one back-to-back pair of now_seconds() calls,
// subtracted from manually timed batches.
double timer_overhead;

void calibrate_timer()
{
	double best = 1.0;

	for (int i = 0; i < 200; i++) {
		double t0 = now_seconds();
		double t1 = now_seconds();

		best = std::min(best, t1 - t0);
	}
	timer_overhead = best;
}

void set_counter(void *arg, const char *name, double value)
{
	static_cast<benchmark::State *>(arg)->counters[name] = value;
}

uint64_t batch_of(const kb_workload *w)
{
	return w->batch != 0 ? w->batch : kDefaultBatch;
}

void run_benchmark(benchmark::State &state, const kb_workload *w)
{
	void *st = cache_get(w);

	if (st == nullptr) {
		state.SkipWithError("setup failed");
		return;
	}
	const uint64_t b = std::max<uint64_t>(1,
	    std::min<uint64_t>(batch_of(w), (uint64_t)state.max_iterations));
	if (w->prepare != nullptr) {
		while (state.KeepRunningBatch((benchmark::IterationCount)b)) {
			w->prepare(st, w->q, b);
			double t0 = now_seconds();
			w->run(st, w->q, 0, b);
			double t = now_seconds() - t0 - timer_overhead;
			state.SetIterationTime(t > 0 ? t : 0);
		}
		w->prepare(st, w->q, 0);	// settle: the next user sees setup's shape
	} else {
		while (state.KeepRunningBatch((benchmark::IterationCount)b))
			w->run(st, w->q, 0, b);
	}
	if (w->counters != nullptr)
		w->counters(st, set_counter, &state);
}

void register_all()
{
	for (const Entry &e : entries) {
		benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
		    e.name.c_str(), run_benchmark, e.w);

		b->Unit(benchmark::kNanosecond);
		if (e.w->prepare != nullptr)
			b->UseManualTime();
	}
}

const Entry *find_entry(const std::string &name)
{
	for (const Entry &e : entries)
		if (e.name == name)
			return &e;
	return nullptr;
}

// Instruction-count mode: see the file comment.
int run_callgrind(const Entry &e, uint64_t ops)
{
	const kb_workload *w = e.w;
	void *st = w->setup(w->p);

	if (st == nullptr)
		return 1;
	if (ops == 0)
		ops = w->cg_ops != 0 ? w->cg_ops : kDefaultCgOps;
	const uint64_t b = std::min(batch_of(w), ops);

	CALLGRIND_START_INSTRUMENTATION;
	// Warm-up, uncounted: lazy binding, first-touch paths, steady state.
	for (int i = 0; i < 2; i++) {
		if (w->prepare != nullptr)
			w->prepare(st, w->q, b);
		w->run(st, w->q, 0, b);
	}
	if (w->prepare == nullptr) {
		CALLGRIND_TOGGLE_COLLECT;
		w->run(st, w->q, 0, ops);
		CALLGRIND_TOGGLE_COLLECT;
	} else {
		for (uint64_t done = 0; done < ops; done += b) {
			uint64_t n = std::min(b, ops - done);

			w->prepare(st, w->q, n);
			CALLGRIND_TOGGLE_COLLECT;
			w->run(st, w->q, 0, n);
			CALLGRIND_TOGGLE_COLLECT;
		}
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	std::printf("kb-callgrind\t%s\t%llu\n", e.name.c_str(), (unsigned long long)ops);
	w->teardown(st);
	return 0;
}

void print_info()
{
	std::printf("kvmem\t%s\n", KB_KVMEM_VERSION);
	std::printf("benchmark\t%s\n", KB_BENCHMARK_VERSION);
	std::printf("glibc\t%s\n", gnu_get_libc_version());
#ifdef KB_HAVE_JEMALLOC
	std::printf("jemalloc\t%s\n", kb_jemalloc_version());
#else
	std::printf("jemalloc\tnot linked\n");
#endif
	std::printf("c_compiler\t%s\n", kb_c_compiler());
#if defined(__clang__)
	std::printf("cxx_compiler\tclang %s\n", __clang_version__);
#else
	std::printf("cxx_compiler\tg++ %s\n", __VERSION__);
#endif
#ifdef __OPTIMIZE__
	std::printf("shim_optimized\tyes\n");
#else
	std::printf("shim_optimized\tno\n");
#endif
#ifdef KB_HAVE_CALLGRIND
	std::printf("callgrind_header\tyes\n");
#else
	std::printf("callgrind_header\tno\n");
#endif
	const char *mc = std::getenv("MALLOC_CONF");
	std::printf("MALLOC_CONF\t%s\n", mc != nullptr ? mc : "");
}

void usage()
{
	std::fprintf(stderr,
	    "usage: kvmem-bench [--kb-full] [--benchmark_* flags]\n"
	    "       kvmem-bench [--kb-full] --kb-list\n"
	    "       kvmem-bench --kb-info\n"
	    "       kvmem-bench --callgrind-workload NAME [--ops N]\n");
}

} // namespace

int main(int argc, char **argv)
{
	bool full = false, list = false, info = false;
	const char *cg_name = nullptr;
	uint64_t cg_ops = 0;
	std::vector<char *> rest;

	rest.push_back(argv[0]);
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];

		if (a == "--kb-full")
			full = true;
		else if (a == "--kb-list")
			list = true;
		else if (a == "--kb-info")
			info = true;
		else if (a == "--callgrind-workload" && i + 1 < argc)
			cg_name = argv[++i];
		else if (a == "--ops" && i + 1 < argc)
			cg_ops = std::strtoull(argv[++i], nullptr, 10);
		else if (a == "--help" || a == "-h") {
			usage();
			rest.push_back(argv[i]);
		} else
			rest.push_back(argv[i]);
	}
	int nargc = (int)rest.size();
	rest.push_back(nullptr);

	kb_streams_init();
	add_table(kb_vmem_workloads, full || cg_name != nullptr);
	add_table(kb_baseline_workloads, full || cg_name != nullptr);
	add_table(kb_malloc_workloads, full || cg_name != nullptr);
#ifdef KB_HAVE_JEMALLOC
	add_table(kb_jemalloc_workloads, full || cg_name != nullptr);
#endif

	if (info) {
		print_info();
		return 0;
	}
	if (list) {
		for (const Entry &e : entries)
			std::printf("%s\t%s\t%s\t%s\t%s\t%d\t%llu\n", e.name.c_str(),
			    e.w->row, e.w->sweep ? e.w->sweep : "-",
			    e.w->value ? e.w->value : "-", e.w->impl,
			    (e.w->flags & KB_CG_CORE) ? 1 : 0,
			    (unsigned long long)(e.w->cg_ops ? e.w->cg_ops : kDefaultCgOps));
		return 0;
	}
	if (cg_name != nullptr) {
		const Entry *e = find_entry(cg_name);

		if (e == nullptr) {
			std::fprintf(stderr, "kvmem-bench: no workload named '%s' "
			    "(see --kb-list)\n", cg_name);
			return 2;
		}
		return run_callgrind(*e, cg_ops);
	}

	calibrate_timer();
	register_all();
	benchmark::AddCustomContext("kvmem_version", KB_KVMEM_VERSION);
	benchmark::AddCustomContext("glibc_version", gnu_get_libc_version());
#ifdef KB_HAVE_JEMALLOC
	benchmark::AddCustomContext("jemalloc_version", kb_jemalloc_version());
#endif
	benchmark::AddCustomContext("c_compiler", kb_c_compiler());
	const char *mc = std::getenv("MALLOC_CONF");
	benchmark::AddCustomContext("MALLOC_CONF", mc != nullptr ? mc : "");
	benchmark::AddCustomContext("timer_overhead_ns",
	    std::to_string(timer_overhead * 1e9));
	benchmark::Initialize(&nargc, rest.data());
	if (benchmark::ReportUnrecognizedArguments(nargc, rest.data()))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	cache_drop();
	benchmark::Shutdown();
	return 0;
}
