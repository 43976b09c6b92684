/*
 * error — formatting helpers for struct sderr and the code names used in
 * JSON summaries and logs.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sderr_set(struct sderr *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

int sderr_prefix(struct sderr *e, const char *fmt, ...)
{
	char head[512], old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%.400s: %.600s", head, old);
	return e->code;
}

const char *sd_code_name(int code)
{
	switch (code) {
	case SD_OK: return "ok";
	case SD_ERR_INTERNAL: return "internal";
	case SD_ERR_USAGE: return "usage";
	case SD_ERR_CONFIG: return "config";
	case SD_ERR_SOURCE: return "source";
	case SD_ERR_STATE: return "state";
	case SD_ERR_SINK: return "sink";
	case SD_ERR_GUARD: return "guard";
	case SD_ERR_SCHEMA: return "schema";
	case SD_ERR_AUTH: return "auth";
	case SD_ERR_INTERRUPTED: return "interrupted";
	case SD_ERR_BUSY: return "busy";
	}
	return "unknown";
}
