/*
 * harness — the tiny in-tree unit test runner. A test file defines tests with
 * TEST(name) { ... } (registered at load time) and checks with CHECK* macros;
 * a failed check records file:line and ends that test. The runner prints TAP
 * and a final "N passed, N failed" line; `unit-tests NAME...` runs a subset.
 */
#ifndef SD_HARNESS_H
#define SD_HARNESS_H

#include <string.h>
#include <stdint.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn);
void harness_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
extern int harness_failed;

#define TEST(name)                                                                    \
	static void test_##name(void);                                                \
	__attribute__((constructor)) static void register_##name(void)               \
	{                                                                             \
		harness_register(#name, test_##name);                                 \
	}                                                                             \
	static void test_##name(void)

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			harness_fail(__FILE__, __LINE__, "%s", #cond);                \
			return;                                                       \
		}                                                                     \
	} while (0)

#define CHECK_INT(a, b)                                                               \
	do {                                                                          \
		long long a_ = (long long)(a), b_ = (long long)(b);                   \
		if (a_ != b_) {                                                       \
			harness_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
				     #a, a_, #b, b_);                                 \
			return;                                                       \
		}                                                                     \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *a_ = (a), *b_ = (b);                                      \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                              \
			harness_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", \
				     #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");     \
			return;                                                       \
		}                                                                     \
	} while (0)

#define CHECK_MEM(a, b, n)                                                            \
	do {                                                                          \
		if (memcmp((a), (b), (n)) != 0) {                                     \
			harness_fail(__FILE__, __LINE__, "%s differs from %s", #a, #b); \
			return;                                                       \
		}                                                                     \
	} while (0)

#endif
