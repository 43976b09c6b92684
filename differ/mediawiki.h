/*
 * mediawiki — the MediaWiki profile: page_change events derived from one
 * group run's row diffs (page, revision, archive, logging, comment, actor,
 * user, slots, content), in the shape of Wikimedia's mediawiki/page/change
 * schema (docs/page_change.md, docs/page_change.schema.json).
 *
 * Called by the run engine (run_env.after_deliver) after every table's row
 * events were delivered and before any state commits, so a crash anywhere
 * re-derives the same events with the same ids on the rerun.
 */
#ifndef SD_MEDIAWIKI_H
#define SD_MEDIAWIKI_H

#include "run.h"

/* ctx is the struct cfg. Reads the group's spools (rewinding them), renders
 * page_change documents and delivers them to every sink with emit_doc (begin,
 * emit_doc..., commit, under run id "<db>.page_change.<page generation>"). */
int mw_after_deliver(void *ctx, struct run_env *env, const struct run_group_view *g, struct sderr *e);

#endif
