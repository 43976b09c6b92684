/*
 * harness — runs the registered unit tests, prints TAP and the closing
 * "N passed, N failed" line. Exit status 1 when anything failed.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct test { const char *name; test_fn fn; };
static struct test tests[1024];
static int ntests;
int harness_failed;

void harness_register(const char *name, test_fn fn)
{
	if (ntests < (int)(sizeof(tests) / sizeof(tests[0])))
		tests[ntests++] = (struct test){ name, fn };
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stdout, "# %s:%d: ", file, line);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	harness_failed = 1;
}

static int selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int pass = 0, fail = 0, n = 0;
	for (int i = 0; i < ntests; i++)
		n += selected(tests[i].name, argc, argv);
	printf("TAP version 13\n1..%d\n", n);
	int k = 0;
	for (int i = 0; i < ntests; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		harness_failed = 0;
		tests[i].fn();
		k++;
		if (harness_failed) {
			printf("not ok %d - %s\n", k, tests[i].name);
			fail++;
		} else {
			printf("ok %d - %s\n", k, tests[i].name);
			pass++;
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
