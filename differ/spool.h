/*
 * spool — a run's changes on local disk between the scan and the sinks.
 *
 * The scan writes every change here first, so guards can look at the totals
 * before anything leaves the machine, and memory stays bounded however many
 * changes a run finds. The file lives next to the state and is removed when
 * the run ends either way.
 */
#ifndef SD_SPOOL_H
#define SD_SPOOL_H

#include "error.h"
#include "sink.h"

struct spool;

int spool_create(const char *dir, const char *run_id, struct spool **out, struct sderr *e);
/* Copies the change's bytes (they may be reused by the caller afterwards). */
int spool_add(struct spool *s, const struct sd_change *c, struct sderr *e);
int64_t spool_count(const struct spool *s);
/* Switches from writing to reading from the start. */
int spool_rewind(struct spool *s, struct sderr *e);
/* 1 with the next change (borrowed until the next call), 0 at the end, <0 error. */
int spool_next(struct spool *s, struct sd_change *c, struct sderr *e);
/* Closes and deletes the file. */
void spool_destroy(struct spool *s);

#endif
