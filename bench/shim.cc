// shim.cc -- registers the C workload tables with Google Benchmark and runs
// them; also the instruction-count mode for callgrind.
//
// kvmem-bench [--kb-full] [--kb-trace-dir DIR] [Google Benchmark flags]
//     Time every workload.  Each registered benchmark calls the workload's
//     run() in batches (KeepRunningBatch), so one iteration is one operation
//     and the reported time is per operation.  Workloads with a prepare()
//     step are timed by the shim around run() only (monotonic clock, through
//     UseManualTime: use their real_time); KB_REALTIME ones (threaded rows,
//     producer/consumer, multi-thread traces) report wall-clock real_time,
//     and as cpu_time the CPU time of the whole process (all its threads)
//     per operation; for the others use cpu_time.  KB_THREADS(n) entries run in n threads
//     (Google Benchmark's Threads(n)): their real_time per operation is the
//     wall time divided by the operations of all threads, i.e. the inverse
//     of the throughput.
// kvmem-bench [--kb-full] --kb-list
//     One line per workload: name, row, sweep, value, impl, callgrind-core
//     flag (0/1), callgrind op count, threads (0: plain), wall-clock flag
//     (0/1: threads of its own, so no callgrind count).
// kvmem-bench --kb-info
//     Versions and build facts for report headers (key<TAB>value).
// kvmem-bench --kb-stats
//     The untimed quantum-cache measurements (see kb_qcache_report()).
// kvmem-bench --callgrind-workload NAME [--ops N]
//     Set NAME up, then run N operations with callgrind collection switched
//     on around the run() calls only (start valgrind with
//     --instr-atstart=no --collect-atstart=no).  Prints
//     "kb-callgrind<TAB>NAME<TAB>N", then the workload's counters as
//     "kb-counter<TAB>NAME<TAB>VALUE" lines (pages_op gives instructions
//     per page).  Threaded entries run as thread 0 only.
//
// Built three ways: the main binary (KB_HAVE_VMEM: kvmem, the reference
// allocators, glibc and, with KB_HAVE_JEMALLOC, jemalloc), and one binary
// per other malloc replacement (KB_SYSMALLOC: only that allocator's rows).

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
#ifdef KB_SYSMALLOC
extern "C" const char *kb_sysmalloc_version(void);
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

// Live states, kept while they may be used again: with interleaved
// repetitions the same setup comes back many times, and some setups (10^6
// segments) cost far more than the benchmark itself.  At most max_states
// are kept; when one must go, the least recently used of the cheap ones
// (setup under kCheapSetup seconds) goes first, so the expensive ones
// survive the interleaving.
struct CachedState {
	const kb_workload *owner;
	void *state;
	uint64_t last_use;
	double cost;		// seconds its setup took
};

const double kCheapSetup = 0.02;
std::vector<CachedState> cache;
size_t max_states = 32;
uint64_t use_clock;
unsigned long n_setups;
double setup_seconds, teardown_seconds;

double now_seconds();

bool same_setup(const kb_workload *a, const kb_workload *b)
{
	return a->setup == b->setup && a->teardown == b->teardown &&
	    std::memcmp(a->p, b->p, sizeof(a->p)) == 0;
}

void cache_evict(std::vector<CachedState>::iterator it)
{
	double t0 = now_seconds();

	it->owner->teardown(it->state);
	teardown_seconds += now_seconds() - t0;
	cache.erase(it);
}

void cache_drop_all()
{
	while (!cache.empty())
		cache_evict(cache.begin());
}

// The state for w, from the cache or freshly set up; nullptr if setup failed.
void *cache_get(const kb_workload *w)
{
	for (CachedState &c : cache) {
		if (same_setup(c.owner, w)) {
			c.last_use = ++use_clock;
			return c.state;
		}
	}
	while (!cache.empty() && cache.size() >= max_states) {
		auto victim = cache.end();
		for (auto it = cache.begin(); it != cache.end(); ++it)
			if (it->cost < kCheapSetup && (victim == cache.end() ||
			    it->last_use < victim->last_use))
				victim = it;
		if (victim == cache.end())
			victim = std::min_element(cache.begin(), cache.end(),
			    [](const CachedState &a, const CachedState &b) {
				    return a.last_use < b.last_use;
			    });
		cache_evict(victim);
	}
	double t0 = now_seconds();
	void *st = w->setup(w->p);
	double t = now_seconds() - t0;
	n_setups++;
	setup_seconds += t;
	if (st != nullptr)
		cache.push_back(CachedState{w, st, ++use_clock, t});
	return st;
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
	benchmark::State &state = *static_cast<benchmark::State *>(arg);

	state.counters[name] = value;
	// pages_op: also the time per page, 1 / (pages per second), which Google
	// Benchmark computes with the row's own clock (manual, real or CPU time)
	// and the operations of all threads.  The 1e-9 makes it nanoseconds.
	if (std::strcmp(name, "pages_op") == 0 && value > 0)
		state.counters["ns_page"] = benchmark::Counter(value * 1e-9,
		    benchmark::Counter::kIsIterationInvariantRate |
		    benchmark::Counter::kInvert);
}

// Callgrind mode: counters go to stdout as "kb-counter<TAB>NAME<TAB>VALUE".
void print_counter(void *arg, const char *name, double value)
{
	(void)arg;
	std::printf("kb-counter\t%s\t%.6g\n", name, value);
}

uint64_t batch_of(const kb_workload *w)
{
	return w->batch != 0 ? w->batch : kDefaultBatch;
}

// The state of the threaded benchmark in progress: thread 0 sets it before
// the start barrier (inside the first KeepRunningBatch), the others read it
// after that barrier.
void *threaded_state;

void run_threaded(benchmark::State &state, const kb_workload *w)
{
	const unsigned tid = (unsigned)state.thread_index();
	void *st = nullptr;

	if (tid == 0) {
		threaded_state = st = cache_get(w);
		if (st == nullptr)
			state.SkipWithError("setup failed");
	}
	const uint64_t b = std::max<uint64_t>(1,
	    std::min<uint64_t>(batch_of(w), (uint64_t)state.max_iterations));
	bool first = true;
	while (state.KeepRunningBatch((benchmark::IterationCount)b)) {
		if (first) {
			first = false;
			st = threaded_state;
			if (st == nullptr) {
				state.SkipWithError("setup failed");
				break;
			}
		}
		w->run(st, w->q, tid, b);
	}
	if (tid == 0 && st != nullptr && w->counters != nullptr)
		w->counters(st, set_counter, &state);
}

void run_benchmark(benchmark::State &state, const kb_workload *w)
{
	if (KB_NTHREADS(w->flags) != 0) {
		run_threaded(state, w);
		return;
	}
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
		else if (e.w->flags & KB_REALTIME) {
			// Wall clock for the figure; cpu_time then counts every
			// thread of the process (helpers and consumers too).
			b->UseRealTime();
			b->MeasureProcessCPUTime();
		}
		if (KB_NTHREADS(e.w->flags) != 0)
			b->Threads((int)KB_NTHREADS(e.w->flags));
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
	if (w->counters != nullptr)
		w->counters(st, print_counter, nullptr);
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
#ifdef KB_SYSMALLOC
	std::printf("sysmalloc\t%s\n", kb_sysmalloc_version());
#endif
	std::printf("trace_dir\t%s\n", kb_trace_dir());
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
	    "usage: kvmem-bench [--kb-full] [--kb-trace-dir DIR] [--kb-states N]\n"
	    "                   [--benchmark_* flags]\n"
	    "       kvmem-bench [--kb-full] --kb-list\n"
	    "       kvmem-bench --kb-info\n"
	    "       kvmem-bench [--kb-trace-dir DIR] --kb-stats\n"
	    "       kvmem-bench --callgrind-workload NAME [--ops N]\n");
}

} // namespace

int main(int argc, char **argv)
{
	bool full = false, list = false, info = false, stats = false;
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
		else if (a == "--kb-stats")
			stats = true;
		else if (a == "--kb-trace-dir" && i + 1 < argc)
			kb_set_trace_dir(argv[++i]);
		else if (a == "--kb-states" && i + 1 < argc)
			max_states = std::max<size_t>(1, std::strtoul(argv[++i], nullptr, 10));
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
	const bool all = full || cg_name != nullptr;
#ifdef KB_SYSMALLOC
	add_table(kb_sysmalloc_workloads, all);
#else
	add_table(kb_vmem_workloads, all);
	add_table(kb_qcache_workloads, all);
	add_table(kb_trace_workloads, all);
	add_table(kb_kmem_workloads, all);
	add_table(kb_baseline_workloads, all);
	add_table(kb_malloc_workloads, all);
#ifdef KB_HAVE_JEMALLOC
	add_table(kb_jemalloc_workloads, all);
#endif
#endif

	if (info) {
		print_info();
		return 0;
	}
	if (stats) {
#ifdef KB_SYSMALLOC
		std::fprintf(stderr, "kvmem-bench: --kb-stats needs the main binary\n");
		return 2;
#else
		return kb_qcache_report();
#endif
	}
	if (list) {
		for (const Entry &e : entries)
			std::printf("%s\t%s\t%s\t%s\t%s\t%d\t%llu\t%u\t%d\n",
			    e.name.c_str(), e.w->row, e.w->sweep ? e.w->sweep : "-",
			    e.w->value ? e.w->value : "-", e.w->impl,
			    (e.w->flags & KB_CG_CORE) ? 1 : 0,
			    (unsigned long long)(e.w->cg_ops ? e.w->cg_ops : kDefaultCgOps),
			    (unsigned)KB_NTHREADS(e.w->flags),
			    (e.w->flags & KB_REALTIME) ? 1 : 0);
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
#ifdef KB_SYSMALLOC
	benchmark::AddCustomContext("sysmalloc_version", kb_sysmalloc_version());
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
	cache_drop_all();
	std::fprintf(stderr, "kvmem-bench: %lu setups took %.1f s, teardowns %.1f s "
	    "(states kept: up to %zu)\n", n_setups, setup_seconds, teardown_seconds,
	    max_states);
	benchmark::Shutdown();
	return 0;
}
