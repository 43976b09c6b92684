/*
 * cron — five-field cron expressions and their next fire time.
 *
 * Syntax (Vixie cron's): "minute hour day-of-month month day-of-week", each
 * field a comma list of items; an item is "*", "N", "N-M", each optionally
 * followed by "/STEP", or "N/STEP" (N to the field's maximum). Months accept
 * jan..dec, days of week sun..sat (case-insensitive); day of week 7 is
 * Sunday like 0. The macros @yearly (@annually), @monthly, @weekly, @daily
 * (@midnight) and @hourly stand for their usual expressions.
 *
 * Day matching follows Vixie cron: when both day-of-month and day-of-week are
 * restricted (neither field starts with "*"), a day matches if EITHER does;
 * otherwise the restricted one alone decides.
 *
 * Times are unix seconds and evaluated in UTC, so that daylight-saving
 * changes never skip or repeat a run.
 *
 * No allocation; struct cron_expr is a plain value.
 */
#ifndef SD_CRON_H
#define SD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cron_expr {
	uint64_t minute;        /* bit n: minute n (0-59)        */
	uint32_t hour;          /* bit n: hour n (0-23)          */
	uint32_t dom;           /* bit n: day n (1-31)           */
	uint16_t month;         /* bit n: month n (1-12)         */
	uint8_t dow;            /* bit n: weekday n (0-6, 0 Sun) */
	bool dom_star;          /* the field started with '*'    */
	bool dow_star;
};

/* Parses text. Returns 0, or -1 with a message in err ("cron: hour: 25 is
 * out of range 0-23"). */
int cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen);

/* The first matching minute strictly after `after` (unix seconds, UTC), or -1
 * when nothing matches within ten years ("0 0 30 2 *": February 30th). */
int64_t cron_next(const struct cron_expr *c, int64_t after);

/* Calendar helpers, exposed for the tests. Month 1-12; weekday 0 = Sunday. */
int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int cron_weekday(int64_t days);
int cron_days_in_month(int64_t y, int m);

#endif
