/*
 * consumer.c -- a program that uses kvmem the way an outside project does:
 * through the installed <kvmem/vmem.h> and nothing else.  Built by the
 * 'consume' tests against an installed copy (pkg-config) and against a
 * meson subproject.  Exits non-zero if the library misbehaves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kvmem/vmem.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "consumer: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		return (1);						\
	}								\
} while (0)

int
main(void)
{
	vmem_t *vm;
	vmem_addr_t a, b, c;
	char json[2048], *q;

	vm = vmem_create("consumer", 0x1000, 0x10000, 0x10, 0, M_WAITOK);
	CHECK(vm != NULL);
	CHECK(strcmp(vmem_name(vm), "consumer") == 0);

	CHECK(vmem_alloc(vm, 0x100, M_BESTFIT | M_NOWAIT, &a) == 0);
	CHECK(a == 0x1000);
	CHECK(vmem_xalloc(vm, 0x20, 0x1000, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &b) == 0);
	CHECK(b % 0x1000 == 0 && b != a);
	CHECK(vmem_alloc(vm, 0, M_NOWAIT, &c) == EINVAL);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0x120);

	CHECK(vmem_stats_json(vm, json, sizeof(json)) < (int)sizeof(json));
	/* Compare without white space: the layout of the JSON is free. */
	q = json;
	for (const char *p = json; *p != '\0'; p++)
		if (*p != ' ' && *p != '\n')
			*q++ = *p;
	*q = '\0';
	CHECK(strstr(json, "\"version\":2") != NULL);
	CHECK(strstr(json, "\"name\":\"consumer\"") != NULL);

	vmem_xfree(vm, b, 0x20);
	vmem_free(vm, a, 0x100);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0);
	CHECK(vmem_size(vm, VMEM_FREE) == 0x10000);
	CHECK(vmem_check(vm) == 0);
	vmem_destroy(vm);

	printf("consumer: ok\n");
	return (0);
}
