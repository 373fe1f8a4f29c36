/*
 * recprog -- a program for the `kvmem-trace record` tests.  Its allocations
 * use marker sizes (3001-3009) the test counts in the recorded trace.
 *
 *   recprog threads   4 threads x 50 rounds of every wrapped call, blocks
 *                     freed by another thread, some left live at exit
 *   recprog exit      10 blocks of 3333 live, then _exit(3) (no exit handlers)
 *   recprog kill      20000 blocks of 3334 live, then SIGKILL (the tool closes
 *                     what the recorder had written)
 *   recprog fork      a forked child allocates 3777 five times (not recorded)
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS	4
#define ROUNDS		50

static void *handoff[NTHREADS][ROUNDS];
static void *volatile keep;
static void *volatile sink;	/* live at exit: closed by the recorder */

static void
fail(const char *what)
{
	fprintf(stderr, "recprog: %s failed\n", what);
	exit(1);
}

/* One thread: every wrapped call, with the marker sizes. */
static void *
worker(void *arg)
{
	int id = (int)(long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		void *a = malloc(3001), *b = calloc(2, 1501), *c = malloc(3003), *d, *e, *f;

		if (a == NULL || b == NULL || c == NULL)
			fail("malloc");
		memset(a, 1, 3001);
		if ((c = realloc(c, 3004)) == NULL)
			fail("realloc");
		if (posix_memalign(&d, 256, 3005) != 0)
			fail("posix_memalign");
		if ((e = aligned_alloc(64, 3008)) == NULL || ((unsigned long)e & 63) != 0)
			fail("aligned_alloc");
		if ((f = memalign(128, 3009)) == NULL || ((unsigned long)f & 127) != 0)
			fail("memalign");
		free(a);
		free(b);
		free(c);
		free(d);
		free(e);
		handoff[id][i] = f;	/* the main thread frees it */
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "threads") == 0) {
		pthread_t t[NTHREADS];

		keep = malloc(3002);
		for (long k = 0; k < NTHREADS; k++)
			if (pthread_create(&t[k], NULL, worker, (void *)k) != 0)
				fail("pthread_create");
		for (int k = 0; k < NTHREADS; k++)
			pthread_join(t[k], NULL);
		for (int k = 0; k < NTHREADS; k++)
			for (int i = 0; i < ROUNDS; i++)
				free(handoff[k][i]);
		printf("recprog: done\n");
		return 0;
	}
	if (strcmp(argv[1], "exit") == 0) {
		for (int i = 0; i < 10; i++)
			if ((sink = malloc(3333)) == NULL)
				fail("malloc");
		_exit(3);
	}
	if (strcmp(argv[1], "kill") == 0) {
		for (int i = 0; i < 20000; i++)
			if ((sink = malloc(3334)) == NULL)
				fail("malloc");
		raise(SIGKILL);
	}
	if (strcmp(argv[1], "fork") == 0) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			for (int i = 0; i < 5; i++) {
				sink = malloc(3777);
				free(sink);
			}
			exit(0);
		}
		waitpid(pid, &st, 0);
		sink = malloc(3001);
		free(sink);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	return 2;
}
