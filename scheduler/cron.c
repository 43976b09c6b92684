/*
 * cron — parses five-field cron expressions into bitmasks and finds the next
 * matching minute.
 *
 * The search walks the calendar from the coarsest field down: a month that
 * does not match is skipped whole, then a day, then an hour, then a minute,
 * so even a sparse expression ("0 0 29 2 *", leap days) needs only a few
 * thousand steps. Calendar arithmetic is done on civil dates with Howard
 * Hinnant's days-from-civil algorithm rather than timegm()/gmtime(), which
 * keeps the code independent of the process's time zone and easy to test.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- calendar --------------------------------------------------------------- */

int64_t cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int cron_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (4) */
	int64_t w = (days + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

int cron_days_in_month(int64_t y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m == 2)
		return leap ? 29 : 28;
	return dim[m - 1];
}

/* ---- parsing ------------------------------------------------------------------ */

struct field {
	const char *name;
	int lo, hi;
	const char *const *names;       /* names[i] stands for lo + i, or NULL */
	int n_names;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, 0 },
	{ "month", 1, 12, month_names, 12 },
	/* 7 is accepted as a second Sunday and folded onto 0 after parsing */
	{ "day-of-week", 0, 7, dow_names, 7 },
};

/* Reads a number or a name at *p; returns 0 or -1. */
static int parse_value(const struct field *f, const char **p, int *out, char *err, size_t errlen)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (*s - '0');
			if (v > 1000)
				break;
			s++;
		}
		if (v < f->lo || v > f->hi) {
			snprintf(err, errlen, "cron: %s: %ld is out of range %d-%d", f->name, v, f->lo, f->hi);
			return -1;
		}
		*out = (int)v;
		*p = s;
		return 0;
	}
	for (int i = 0; i < f->n_names; i++) {
		if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
			*out = f->lo + i;
			*p = s + 3;
			return 0;
		}
	}
	snprintf(err, errlen, "cron: %s: unexpected \"%.16s\"", f->name, s);
	return -1;
}

/* Parses one field (text up to the next blank) into a bitmask. */
static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *mask,
		       bool *star, char *err, size_t errlen)
{
	char item[64];
	const char *end = s + len;

	*mask = 0;
	*star = (len > 0 && s[0] == '*');
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t n = comma ? (size_t)(comma - s) : (size_t)(end - s);
		const char *p = item;
		int lo, hi, step = 1;
		bool range = false;

		if (n == 0 || n >= sizeof item) {
			snprintf(err, errlen, "cron: %s: empty or over-long list item", f->name);
			return -1;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		if (*p == '*') {
			lo = f->lo;
			hi = f->hi;
			p++;
			range = true;
		} else {
			if (parse_value(f, &p, &lo, err, errlen) < 0)
				return -1;
			hi = lo;
			if (*p == '-') {
				p++;
				if (parse_value(f, &p, &hi, err, errlen) < 0)
					return -1;
				if (hi < lo) {
					snprintf(err, errlen, "cron: %s: range %d-%d runs backwards", f->name, lo, hi);
					return -1;
				}
				range = true;
			}
		}
		if (*p == '/') {
			char *e;
			long v;
			p++;
			v = strtol(p, &e, 10);
			if (e == p || *e != '\0' || v < 1 || v > f->hi) {
				snprintf(err, errlen, "cron: %s: bad step \"%s\"", f->name, p);
				return -1;
			}
			step = (int)v;
			if (!range)     /* "N/S" means N through the maximum */
				hi = f->hi;
			p = e;
		}
		if (*p != '\0') {
			snprintf(err, errlen, "cron: %s: unexpected \"%s\"", f->name, p);
			return -1;
		}
		for (int v = lo; v <= hi; v += step)
			*mask |= (uint64_t)1 << v;
		s += n + (comma ? 1 : 0);
		if (comma && s == end) {
			snprintf(err, errlen, "cron: %s: trailing comma", f->name);
			return -1;
		}
	}
	return 0;
}

static const struct { const char *name; const char *expr; } macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

int cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen)
{
	const char *s = text;
	uint64_t masks[5];
	bool stars[5];
	int nf = 0;

	if (!text) {
		snprintf(err, errlen, "cron: empty expression");
		return -1;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '@') {
		size_t n = strcspn(s, " \t\r\n");
		for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
			if (strlen(macros[i].name) == n && strncasecmp(s, macros[i].name, n) == 0) {
				const char *rest = s + n;
				while (isspace((unsigned char)*rest))
					rest++;
				if (*rest) {
					snprintf(err, errlen, "cron: unexpected \"%.16s\" after %s", rest, macros[i].name);
					return -1;
				}
				return cron_parse(macros[i].expr, out, err, errlen);
			}
		}
		snprintf(err, errlen, "cron: unknown macro \"%.*s\"", (int)(n > 16 ? 16 : n), s);
		return -1;
	}
	while (*s) {
		size_t n = strcspn(s, " \t\r\n");
		if (nf == 5) {
			snprintf(err, errlen, "cron: more than five fields");
			return -1;
		}
		if (parse_field(&fields[nf], s, n, &masks[nf], &stars[nf], err, errlen) < 0)
			return -1;
		nf++;
		s += n;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (nf != 5) {
		snprintf(err, errlen, "cron: expected five fields (minute hour day-of-month month day-of-week), got %d", nf);
		return -1;
	}
	memset(out, 0, sizeof *out);
	out->minute = masks[0];
	out->hour = (uint32_t)masks[1];
	out->dom = (uint32_t)masks[2];
	out->month = (uint16_t)masks[3];
	if (masks[4] & (1u << 7))
		masks[4] |= 1u;
	out->dow = (uint8_t)(masks[4] & 0x7f);
	out->dom_star = stars[2];
	out->dow_star = stars[4];
	return 0;
}

/* ---- next fire time -------------------------------------------------------- */

struct when {
	int64_t y;
	int mo, d, h, mi;
};

static void next_month(struct when *w)
{
	w->d = 1;
	w->h = 0;
	w->mi = 0;
	if (++w->mo > 12) {
		w->mo = 1;
		w->y++;
	}
}

static void next_day(struct when *w)
{
	w->h = 0;
	w->mi = 0;
	if (++w->d > cron_days_in_month(w->y, w->mo))
		next_month(w);
}

static void next_hour(struct when *w)
{
	w->mi = 0;
	if (++w->h > 23)
		next_day(w);
}

static bool day_matches(const struct cron_expr *c, const struct when *w)
{
	bool dom = (c->dom >> w->d) & 1;
	bool dow = (c->dow >> cron_weekday(cron_days_from_civil(w->y, w->mo, w->d))) & 1;

	if (c->dom_star && c->dow_star)
		return true;
	if (c->dom_star)
		return dow;
	if (c->dow_star)
		return dom;
	return dom || dow;
}

int64_t cron_next(const struct cron_expr *c, int64_t after)
{
	int64_t t, days, limit_year;
	int64_t secs;
	struct when w;

	if (!c->minute || !c->hour || !c->dom || !c->month || !c->dow)
		return -1;
	/* the next whole minute strictly after `after` */
	t = after - (((after % 60) + 60) % 60) + 60;
	days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	secs = t - days * 86400;
	cron_civil_from_days(days, &w.y, &w.mo, &w.d);
	w.h = (int)(secs / 3600);
	w.mi = (int)((secs % 3600) / 60);
	limit_year = w.y + 10;

	while (w.y <= limit_year) {
		if (!((c->month >> w.mo) & 1)) {
			next_month(&w);
			continue;
		}
		if (!day_matches(c, &w)) {
			next_day(&w);
			continue;
		}
		if (!((c->hour >> w.h) & 1)) {
			next_hour(&w);
			continue;
		}
		if (!((c->minute >> w.mi) & 1)) {
			if (++w.mi > 59)
				next_hour(&w);
			continue;
		}
		return cron_days_from_civil(w.y, w.mo, w.d) * 86400 + w.h * 3600 + w.mi * 60;
	}
	return -1;
}
