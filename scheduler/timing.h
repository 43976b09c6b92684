/*
 * timing — the scheduler's pure policy functions: when to run next, how long
 * to back off, and what an exit status means. No clock reads and no
 * randomness inside (callers pass `now` and a uniform draw), so every rule
 * here is a unit test away from being checked.
 */
#ifndef SD_SCHED_TIMING_H
#define SD_SCHED_TIMING_H

#include <stdbool.h>
#include <stdint.h>

/* Delay before retry number `attempt` (1 = the first retry): initial *
 * 2^(attempt-1), capped at max. Non-positive initial means 10 s, a max
 * below initial means initial. */
double sched_backoff(double initial, double max, int attempt);

/* The interval schedule's next slot after prev_slot: prev_slot + every, or,
 * when that is not after now (the daemon was stopped, a run overran), the
 * first slot on the same grid that is. Missed slots are skipped, not run
 * back to back. */
double sched_next_slot(double prev_slot, double every, double now);

/* The fire time of a slot: slot + u * jitter, u uniform in [0, 1). Jitter
 * spreads tables that share a schedule so they do not all hit MariaDB in the
 * same second. */
double sched_jittered(double slot, double jitter, double u);

/* A uniform draw in [0, 1) from a xorshift64* state (never 0). */
double sched_uniform(uint64_t *state);

/* What a finished run means for the schedule. */
enum sched_outcome {
	SCHED_OK = 0,           /* success                                         */
	SCHED_BUSY,             /* exit 99: someone else holds the lock; not a failure */
	SCHED_RETRY,            /* failed, worth retrying (1, 4, 5, 6, 10, crash, timeout) */
	SCHED_PERMANENT,        /* failed, retrying cannot help (3, 7, 8, 9, others) */
};

/* exit_code: the child's exit status, or -1 when a signal ended it (a crash,
 * an OOM kill, our own timeout kill). */
enum sched_outcome sched_classify(int exit_code);

#endif
