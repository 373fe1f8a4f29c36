/*
 * test_misuse.c -- misuse detection: double free, unknown address, wrong
 * size, overlapping vmem_add, destroy with live allocations.
 *
 * With a recording handler each misuse is reported once with its kind,
 * address and size, the call has no effect, the arena stays consistent and
 * stats.misuses counts it.  With the default handler the process aborts
 * (SIGABRT) after one line on stderr naming the arena, address and size.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(misuse, .fini = kvt_fini_no_live);
TestSuite(misuse_default);	/* these abort: no fini */

struct fixture {
	vmem_t			*vm;
	struct kvt_misuse_log	log;
	vmem_addr_t		a, b;	/* busy: a 64 bytes, b 32 bytes */
	struct kvt_snap		before;
	struct vmem_stats	st;
};

/*
 * Arena "ids", quantum 16, [0x1000, 0x2000), a and b allocated, c freed,
 * all through the segment layer (vmem_xalloc_addr/vmem_xfree) in both test
 * modes.  With caches (see kvtest.h) a misused vmem_free of a cached size
 * is found when the cache flushes: expect_report drains first.
 */
static void
setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);
	cr_assert_not_null(f->vm);
	vmem_set_misuse_handler(f->vm, kvt_misuse_record, &f->log);
	cr_assert_eq(vmem_xalloc_addr(f->vm, 0x1100, 64, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(f->vm, 0x1200, 16, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(f->vm, 0x1300, 32, M_NOWAIT), 0);
	vmem_xfree(f->vm, 0x1200, 16);
	f->a = 0x1100;
	f->b = 0x1300;
	kvt_snap_take(f->vm, &f->before);
	f->st = kvt_stats(f->vm);
}

/* The misuse was reported once as kind/addr/size and changed nothing. */
static void
expect_report(struct fixture *f, enum vmem_misuse kind, vmem_addr_t addr,
    vmem_size_t size, const char *what)
{
	struct kvt_snap after;
	struct vmem_stats st;
	char hex[32];

	vmem_qcache_drain(f->vm);
	cr_assert_eq(f->log.count, 1, "%s: %d reports", what, f->log.count);
	cr_assert_eq(f->log.kind, kind, "%s: kind %d (%s)", what, f->log.kind,
	    vmem_misuse_name(f->log.kind));
	cr_assert_eq(f->log.vm, f->vm, "%s: arena", what);
	cr_assert_eq(f->log.addr, addr, "%s: addr " KVT_X, what, f->log.addr);
	cr_assert_eq(f->log.size, size, "%s: size %zu", what, f->log.size);
	cr_assert_not_null(strstr(f->log.msg, "ids"), "%s: message: %s", what,
	    f->log.msg);
	snprintf(hex, sizeof(hex), "%" PRIxPTR, addr);
	cr_assert_not_null(strstr(f->log.msg, hex), "%s: message: %s", what,
	    f->log.msg);
	kvt_snap_take(f->vm, &after);
	cr_assert(kvt_snap_same(&f->before, &after), "%s changed the arena", what);
	kvt_snap_free(&after);
	cr_assert_eq(vmem_check(f->vm), 0, "%s", what);
	st = kvt_stats(f->vm);
	cr_assert_eq(st.misuses, f->st.misuses + 1, "%s: stats.misuses", what);
	cr_assert_eq(st.frees, f->st.frees, "%s: counted as a free", what);
}

/*
 * As expect_report, for a misused vmem_free(addr, size).  A cached size
 * goes to a quantum cache instead, which never handed out these
 * segment-layer addresses: it reports them unknown, with its object size.
 */
static void
expect_free_report(struct fixture *f, enum vmem_misuse kind, vmem_addr_t addr,
    vmem_size_t size, const char *what)
{
	if (kvt_cached(f->vm, size)) {
		kind = VMEM_MISUSE_UNKNOWN_FREE;
		size = vmem_roundup_size(f->vm, size);
	}
	expect_report(f, kind, addr, size, what);
}

/* Free what setup allocated and destroy (no further reports). */
static void
teardown(struct fixture *f)
{
	int n = f->log.count;

	vmem_xfree(f->vm, f->a, 64);
	vmem_xfree(f->vm, f->b, 32);
	cr_assert_eq(f->log.count, n, "the real frees still work");
	cr_assert_eq(vmem_size(f->vm, VMEM_ALLOC), 0);
	vmem_destroy(f->vm);
	cr_assert_eq(f->log.count, n, "no leak after everything was freed");
	kvt_snap_free(&f->before);
}

Test(misuse, double_free)
{
	struct fixture f;

	setup(&f);
	vmem_free(f.vm, 0x1200, 16);
	expect_free_report(&f, VMEM_MISUSE_DOUBLE_FREE, 0x1200, 16, "double free");
	teardown(&f);
}

/* A block from vmem_alloc freed twice: a double free in both modes. */
Test(misuse, double_free_of_allocated_block)
{
	struct kvt_misuse_log log;
	vmem_t *vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t keep, a;

	memset(&log, 0, sizeof(log));
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	/* keep holds a cached block's slab, so the cache still knows a. */
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT, &keep), 0);
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT, &a), 0);
	vmem_free(vm, a, 16);
	vmem_free(vm, a, 16);
	vmem_qcache_drain(vm);		/* where a cache finds it */
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_DOUBLE_FREE, "kind %d", log.kind);
	cr_assert_eq(log.addr, a);
	cr_assert_eq(log.size, 16);
	cr_assert_eq(vmem_check(vm), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 16, "nothing lost, nothing freed twice");
	vmem_free(vm, keep, 16);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 1);
}

Test(misuse, double_free_inside_free_segment)
{
	struct fixture f;

	setup(&f);
	vmem_xfree(f.vm, 0x1800, 16);	/* never allocated, inside free space */
	expect_report(&f, VMEM_MISUSE_DOUBLE_FREE, 0x1800, 16,
	    "free inside a free segment");
	teardown(&f);
}

Test(misuse, double_free_after_coalescing)
{
	struct fixture f;

	setup(&f);
	vmem_xfree(f.vm, f.a, 64);
	f.a = 0;
	kvt_snap_free(&f.before);
	kvt_snap_take(f.vm, &f.before);
	f.st = kvt_stats(f.vm);
	vmem_free(f.vm, 0x1100, 64);	/* now merged into a larger free segment */
	expect_free_report(&f, VMEM_MISUSE_DOUBLE_FREE, 0x1100, 64,
	    "double free of a coalesced block");
	vmem_xfree(f.vm, f.b, 32);
	vmem_destroy(f.vm);
	cr_assert_eq(f.log.count, 1);
	kvt_snap_free(&f.before);
}

Test(misuse, unknown_inside_busy)
{
	struct fixture f;

	setup(&f);
	vmem_free(f.vm, f.a + 16, 16);
	expect_free_report(&f, VMEM_MISUSE_UNKNOWN_FREE, f.a + 16, 16,
	    "free of the middle of a busy block");
	teardown(&f);
}

Test(misuse, unknown_outside_spans)
{
	struct fixture f;

	setup(&f);
	vmem_free(f.vm, 0x9000, 32);
	expect_free_report(&f, VMEM_MISUSE_UNKNOWN_FREE, 0x9000, 32,
	    "free outside every span");
	teardown(&f);
}

Test(misuse, size_mismatch)
{
	struct fixture f;

	setup(&f);
	vmem_free(f.vm, f.a, 128);
	expect_free_report(&f, VMEM_MISUSE_SIZE_MISMATCH, f.a, 128, "too large");
	f.log.count = 0;
	f.st = kvt_stats(f.vm);
	vmem_xfree(f.vm, f.a, 48);
	expect_report(&f, VMEM_MISUSE_SIZE_MISMATCH, f.a, 48, "too small");
	teardown(&f);
}

Test(misuse, same_rounded_size_is_not_misuse)
{
	struct fixture f;

	vmem_addr_t c, d;

	setup(&f);
	vmem_xfree(f.vm, f.b, 17);	/* 32 after rounding */
	cr_assert_eq(f.log.count, 0);
	f.b = 0;
	/* The same through vmem_alloc/vmem_free (cached sizes with caches). */
	cr_assert_eq(vmem_alloc(f.vm, 17, M_NOWAIT, &c), 0);
	cr_assert_eq(vmem_alloc(f.vm, 32, M_NOWAIT, &d), 0);
	vmem_free(f.vm, c, 32);
	vmem_free(f.vm, d, 17);
	vmem_qcache_drain(f.vm);
	cr_assert_eq(f.log.count, 0);
	cr_assert_eq(vmem_size(f.vm, VMEM_ALLOC), 64);
	vmem_xfree(f.vm, f.a, 64);
	vmem_destroy(f.vm);
	cr_assert_eq(f.log.count, 0);
	kvt_snap_free(&f.before);
}

Test(misuse, add_overlap)
{
	static const struct {
		vmem_addr_t	addr;
		vmem_size_t	size;
		const char	*what;
	} ov[] = {
		{ 0x1000, 0x1000, "identical" },
		{ 0x800, 0x1000, "overlapping the start" },
		{ 0x1800, 0x1000, "overlapping the end" },
		{ 0x1400, 0x100, "inside" },
		{ 0x800, 0x2000, "containing" },
		{ 0x1ff0, 0x10, "the last quantum" },
	};

	for (size_t i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
		struct fixture f;

		setup(&f);
		cr_assert_eq(vmem_add(f.vm, ov[i].addr, ov[i].size, M_NOWAIT), EINVAL,
		    "%s: returns EINVAL after the report", ov[i].what);
		cr_assert_eq(f.log.count, 1, "%s", ov[i].what);
		cr_assert_eq(f.log.kind, VMEM_MISUSE_ADD_OVERLAP, "%s", ov[i].what);
		cr_assert_eq(f.log.addr, ov[i].addr, "%s", ov[i].what);
		cr_assert_eq(f.log.size, ov[i].size, "%s", ov[i].what);
		struct kvt_snap after;
		kvt_snap_take(f.vm, &after);
		cr_assert(kvt_snap_same(&f.before, &after), "%s", ov[i].what);
		kvt_snap_free(&after);
		cr_assert_eq(vmem_check(f.vm), 0);
		cr_assert_eq(kvt_stats(f.vm).misuses, 1);
		cr_assert_eq(kvt_stats(f.vm).spans, 1);
		teardown(&f);
	}
}

Test(misuse, adjacent_add_is_not_overlap)
{
	struct fixture f;

	setup(&f);
	cr_assert_eq(vmem_add(f.vm, 0x2000, 0x1000, M_NOWAIT), 0);
	cr_assert_eq(vmem_add(f.vm, 0x0, 0x1000, M_NOWAIT), 0);
	cr_assert_eq(f.log.count, 0);
	teardown(&f);
}

Test(misuse, destroy_with_live_allocations)
{
	struct kvt_misuse_log log;
	vmem_t *vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);

	memset(&log, 0, sizeof(log));
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1800, 48, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1200, 32, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1400, 16, M_NOWAIT), 0);
	vmem_xfree(vm, 0x1400, 16);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 1, "one report for all leaks");
	cr_assert_eq(log.kind, VMEM_MISUSE_LEAK);
	cr_assert_eq(log.addr, 0x1200, "the first leaked address");
	cr_assert_eq(log.size, 80, "total leaked bytes");
	cr_assert_not_null(strstr(log.msg, "ids"), "%s", log.msg);
	cr_assert_eq(vmem__live_arenas(), 0, "torn down anyway");
}

Test(misuse, process_default_handler)
{
	struct kvt_misuse_log glog, alog;
	vmem_t *v1, *v2;
	vmem_addr_t a;

	memset(&glog, 0, sizeof(glog));
	memset(&alog, 0, sizeof(alog));
	vmem_set_misuse_handler(NULL, kvt_misuse_record, &glog);
	v1 = kvt_vmem_create("one", 0x1000, 0x1000, 16, 0, M_WAITOK);
	v2 = kvt_vmem_create("two", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_set_misuse_handler(v2, kvt_misuse_record, &alog);
	cr_assert_eq(vmem_alloc(v1, 16, M_NOWAIT, &a), 0);
	vmem_free(v1, a, 16);
	vmem_free(v1, a, 16);
	vmem_qcache_drain(v1);		/* where caches find it */
	cr_assert_eq(glog.count, 1, "arenas without a handler use the default");
	cr_assert_eq(glog.vm, v1);
	vmem_free(v2, 0x1000, 16);
	vmem_qcache_drain(v2);
	cr_assert_eq(alog.count, 1, "a per-arena handler wins");
	cr_assert_eq(glog.count, 1);
	cr_assert_eq(kvt_stats(v1).misuses, 1);
	cr_assert_eq(kvt_stats(v2).misuses, 1);
	vmem_destroy(v1);
	vmem_destroy(v2);
}

Test(misuse, many_misuses_keep_arena_intact)
{
	struct fixture f;

	setup(&f);
	for (int i = 0; i < 100; i++) {
		vmem_free(f.vm, 0x1200, 16);
		vmem_free(f.vm, f.a + 16, 16);
		vmem_free(f.vm, f.a, 16);
		cr_assert_eq(vmem_add(f.vm, 0x1000, 16, M_NOWAIT), EINVAL);
	}
	vmem_qcache_drain(f.vm);
	cr_assert_eq(f.log.count, 400, "%d reports", f.log.count);
	cr_assert_eq(kvt_stats(f.vm).misuses, 400);
	struct kvt_snap after;
	kvt_snap_take(f.vm, &after);
	cr_assert(kvt_snap_same(&f.before, &after));
	kvt_snap_free(&after);
	cr_assert_eq(vmem_check(f.vm), 0);
	teardown(&f);
}

/* A handler that uses the arena: it must be called with the arena unlocked. */
static void
reentrant_handler(void *arg, vmem_t *vm, enum vmem_misuse kind,
    vmem_addr_t addr, vmem_size_t size, const char *msg)
{
	struct kvt_misuse_log *log = arg;
	vmem_addr_t a;

	kvt_misuse_record(arg, vm, kind, addr, size, msg);
	/* Each of these would deadlock on a held (non-recursive) lock. */
	(void)vmem_size(vm, VMEM_ALLOC);
	if (vmem_alloc(vm, 16, M_NOWAIT, &a) == 0)
		vmem_free(vm, a, 16);
	log->msg[0] = vmem_check(vm) == 0 ? log->msg[0] : '!';
}

Test(misuse, handler_runs_unlocked, .timeout = 30)
{
	struct kvt_misuse_log log;
	vmem_t *vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);

	memset(&log, 0, sizeof(log));
	vmem_set_misuse_handler(vm, reentrant_handler, &log);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1100, 64, M_NOWAIT), 0);
	vmem_free(vm, 0x1100, 32);			/* size mismatch */
	vmem_free(vm, 0x1110, 16);			/* unknown */
	vmem_free(vm, 0x1800, 16);			/* double free */
	cr_assert_eq(vmem_add(vm, 0x1000, 16, M_NOWAIT), EINVAL);	/* overlap */
	vmem_qcache_drain(vm);		/* reports from a flush run unlocked too */
	cr_assert_eq(log.count, 4);
	cr_assert_neq(log.msg[0], '!', "vmem_check failed inside the handler");
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 64);
	vmem_xfree(vm, 0x1100, 64);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 4);
}

/* ---- The default handler aborts ------------------------------------------------ */

static vmem_t *
plain_arena(void)
{
	vmem_t *vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);

	cr_assert_not_null(vm);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1100, 64, M_NOWAIT), 0);
	return (vm);
}

/* With caches, a misused cached-size vmem_free aborts at the flush. */
Test(misuse_default, double_free_aborts, .signal = SIGABRT)
{
	vmem_t *vm = plain_arena();

	vmem_xfree(vm, 0x1100, 64);
	vmem_free(vm, 0x1100, 64);
	vmem_qcache_drain(vm);
}

Test(misuse_default, unknown_free_aborts, .signal = SIGABRT)
{
	vmem_t *vm = plain_arena();

	vmem_free(vm, 0x1110, 16);
	vmem_qcache_drain(vm);
}

Test(misuse_default, size_mismatch_aborts, .signal = SIGABRT)
{
	vmem_t *vm = plain_arena();

	vmem_xfree(vm, 0x1100, 32);
}

Test(misuse_default, add_overlap_aborts, .signal = SIGABRT)
{
	vmem_t *vm = plain_arena();

	(void)vmem_add(vm, 0x1800, 0x1000, M_NOWAIT);
}

Test(misuse_default, leak_aborts, .signal = SIGABRT)
{
	vmem_t *vm = plain_arena();

	vmem_destroy(vm);
}

/*
 * Run fn in a child with stderr on a pipe; return what it wrote and its
 * wait status.
 */
static void
run_child(void (*fn)(void), char *out, size_t outlen, int *status)
{
	int fds[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	cr_assert_eq(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		fn();
		_exit(0);	/* not reached if fn aborts */
	}
	close(fds[1]);
	while (n + 1 < outlen && (r = read(fds[0], out + n, outlen - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, status, 0), pid);
}

static void
child_double_free(void)
{
	vmem_t *vm = kvt_vmem_create("ids", 0x1000, 0x1000, 16, 0, M_WAITOK);

	vmem_xalloc_addr(vm, 0x1230, 16, M_NOWAIT);
	vmem_xfree(vm, 0x1230, 16);
	vmem_free(vm, 0x1230, 16);
	vmem_qcache_drain(vm);
}

static void
child_size_mismatch(void)
{
	vmem_t *vm = kvt_vmem_create("dev bars", 0x100000, 0x100000, 4096, 0, M_WAITOK);

	vmem_xalloc_addr(vm, 0x1ab000, 8192, M_NOWAIT);
	vmem_free(vm, 0x1ab000, 12288);
	vmem_qcache_drain(vm);
}

static void
child_leak(void)
{
	vmem_t *vm = kvt_vmem_create("leaky", 0x1000, 0x1000, 16, 0, M_WAITOK);

	vmem_xalloc_addr(vm, 0x1400, 48, M_NOWAIT);
	vmem_destroy(vm);
}

static void
check_message(void (*fn)(void), const char *name, const char *addr,
    const char *size)
{
	char out[4096], quoted[64];
	int status;

	run_child(fn, out, sizeof(out), &status);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "the default handler must abort (status 0x%x); stderr: %s", status, out);
	snprintf(quoted, sizeof(quoted), "'%s'", name);
	cr_assert_not_null(strstr(out, "vmem"), "stderr: %s", out);
	cr_assert_not_null(strstr(out, quoted), "arena name in quotes: %s", out);
	cr_assert_not_null(strstr(out, addr), "address %s: %s", addr, out);
	cr_assert_not_null(strstr(out, size), "size %s: %s", size, out);
	cr_assert_not_null(strchr(out, '\n'), "one full line: %s", out);
}

Test(misuse, default_message_double_free)
{
	check_message(child_double_free, "ids", "0x1230", "16");
}

Test(misuse, default_message_size_mismatch)
{
	check_message(child_size_mismatch, "dev bars", "0x1ab000", "12288");
}

Test(misuse, default_message_leak)
{
	check_message(child_leak, "leaky", "0x1400", "48");
}
