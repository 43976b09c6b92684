/*
 * timing — backoff, interval slots with jitter, and the exit-code policy of
 * the scheduler (see timing.h). The retriable set mirrors differ/error.h:
 * source (4), state (5) and sink (6) failures are usually transient and
 * internal errors (1) may be, and so is a run interrupted by a signal (10); configuration (3), the mass-delete guard (7),
 * schema (8) and authentication (9) failures need a person, so retrying them
 * only adds load. A run killed by a signal (OOM killer, our timeout) is
 * retried: nothing says the next attempt will meet the same fate.
 */
#include "timing.h"

#include <math.h>

#include "error.h"

double sched_backoff(double initial, double max, int attempt)
{
	double d;

	if (!(initial > 0))
		initial = 10;
	if (!(max >= initial))
		max = initial;
	if (attempt < 1)
		attempt = 1;
	/* 2^62 overflows nothing in a double, and any cap is reached long before */
	d = initial * ldexp(1.0, attempt > 62 ? 62 : attempt - 1);
	return d > max ? max : d;
}

double sched_next_slot(double prev_slot, double every, double now)
{
	double s;

	if (!(every > 0))
		return now;
	s = prev_slot + every;
	if (s <= now)
		s += every * (floor((now - s) / every) + 1);
	return s;
}

double sched_jittered(double slot, double jitter, double u)
{
	if (!(jitter > 0))
		return slot;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.999999;
	return slot + u * jitter;
}

double sched_uniform(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	/* top 53 bits of the scrambled state make an exact double in [0, 1) */
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * 0x1.0p-53;
}

enum sched_outcome sched_classify(int exit_code)
{
	switch (exit_code) {
	case SD_OK:
		return SCHED_OK;
	case SD_ERR_BUSY:
		return SCHED_BUSY;
	case -1:
	case SD_ERR_INTERNAL:
	case SD_ERR_SOURCE:
	case SD_ERR_STATE:
	case SD_ERR_SINK:
	case SD_ERR_INTERRUPTED:
		return SCHED_RETRY;
	default:
		return SCHED_PERMANENT;
	}
}
