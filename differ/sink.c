/*
 * sink — the table of sink types and opening/closing the configured set.
 * With no sink configured, events go to stdout as JSON Lines (the embedded
 * default), which is what `make demo` shows.
 */
#include "sink.h"

#include <stdlib.h>

/* indexed by cfg_sink_type; the lake is added by sinks_open when enabled */
static const struct sink_ops *const sink_types[] = {
	[CFG_SINK_JSONL] = &sink_jsonl_ops,
	[CFG_SINK_KAFKA] = &sink_kafka_ops,
};

static const struct sink_ops *find_ops(enum cfg_sink_type type)
{
	if ((size_t)type >= sizeof(sink_types) / sizeof(sink_types[0]))
		return NULL;
	return sink_types[type];
}

int sinks_open(const struct cfg *cfg, struct sink **out, size_t *n, struct sderr *e)
{
	static struct cfg_sink stdout_sink = { .type = CFG_SINK_JSONL, .name = (char *)"stdout",
					       .path = (char *)"-" };
	static struct cfg_sink lake_sink = { .name = (char *)"lake" };
	/* the lake is a sink too; with the lake alone, no stdout default (the
	 * events of a first load would bury the summary) */
	size_t count = cfg->n_sinks ? cfg->n_sinks : cfg->lake.enabled ? 0 : 1;
	size_t total = count + (cfg->lake.enabled ? 1 : 0);
	struct sink *s = xcalloc(total ? total : 1, sizeof(*s));
	for (size_t i = 0; i < total; i++) {
		if (i == count) {
			s[i].conf = &lake_sink;
			s[i].ops = &sink_lake_ops;
			int rc = s[i].ops->open(&s[i].state, &lake_sink, cfg, e);
			if (rc) {
				sinks_close(s, i);
				return rc;
			}
			continue;
		}
		const struct cfg_sink *conf = cfg->n_sinks ? &cfg->sinks[i] : &stdout_sink;
		s[i].conf = conf;
		s[i].ops = find_ops(conf->type);
		if (!s[i].ops) {
			sinks_close(s, i);
			return sderr_set(e, SD_ERR_CONFIG, "sink type %d is not built into this snapdiff", conf->type);
		}
		int rc = s[i].ops->open(&s[i].state, conf, cfg, e);
		if (rc) {
			sinks_close(s, i);
			return rc;
		}
	}
	*out = s;
	*n = total;
	return SD_OK;
}

void sinks_close(struct sink *sinks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sinks[i].ops && sinks[i].ops->close)
			sinks[i].ops->close(sinks[i].state);
	free(sinks);
}
