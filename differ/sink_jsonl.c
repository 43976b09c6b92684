/*
 * sink_jsonl — native events as JSON Lines.
 *
 * Three targets: stdout ("-"), one file appended to and fsync'd at commit
 * (a crash mid-append can leave a torn last line; consumers skip lines that
 * do not parse and dedupe by id), or a directory with one file per run,
 * written as .tmp, fsync'd and renamed into place so a run's file is either
 * whole or absent — a rerun after a crash rewrites the same name.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"

struct jsonl {
	const struct cfg_sink *conf;
	int fd;              /* current output */
	char *tmp_path;      /* dir mode: the .tmp being written */
	char *final_path;
	struct buf out;
};

static int jsonl_open(void **state, const struct cfg_sink *conf, const struct cfg *cfg, struct sderr *e)
{
	(void)cfg;
	struct jsonl *j = xcalloc(1, sizeof(*j));
	j->conf = conf;
	j->fd = -1;
	if (conf->dir && mkdir(conf->dir, 0755) < 0 && errno != EEXIST) {
		int rc = sderr_set(e, SD_ERR_SINK, "sink '%s': cannot create directory '%s': %s",
				   conf->name ? conf->name : "jsonl", conf->dir, strerror(errno));
		free(j);
		return rc;
	}
	*state = j;
	return SD_OK;
}

static int fail(struct jsonl *j, struct sderr *e, const char *what, const char *path)
{
	return sderr_set(e, SD_ERR_SINK, "sink '%s': %s '%s': %s",
			 j->conf->name ? j->conf->name : "jsonl", what, path, strerror(errno));
}

static int jsonl_begin(void *state, const struct sd_run_info *run, struct sderr *e)
{
	struct jsonl *j = state;
	buf_reset(&j->out);
	if (j->conf->dir) {
		struct buf p = BUF_INIT;
		buf_addf(&p, "%s/", j->conf->dir);
		for (const char *c = run->run_id; *c; c++)
			buf_addch(&p, (*c == '/') ? '_' : *c);
		buf_addstr(&p, ".jsonl");
		j->final_path = buf_detach(&p, NULL);
		buf_addf(&p, "%s.tmp", j->final_path);
		j->tmp_path = buf_detach(&p, NULL);
		j->fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (j->fd < 0)
			return fail(j, e, "cannot create", j->tmp_path);
	} else if (!j->conf->path || strcmp(j->conf->path, "-") == 0) {
		j->fd = STDOUT_FILENO;
	} else {
		j->fd = open(j->conf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (j->fd < 0)
			return fail(j, e, "cannot open", j->conf->path);
	}
	return SD_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int flush_out(struct jsonl *j, struct sderr *e)
{
	if (j->out.len && write_all(j->fd, j->out.p, j->out.len) < 0)
		return fail(j, e, "cannot write", j->tmp_path ? j->tmp_path : j->conf->path ? j->conf->path : "-");
	buf_reset(&j->out);
	return SD_OK;
}

static int jsonl_emit(void *state, const struct sd_run_info *run, const struct sd_change *c,
		      struct sderr *e)
{
	struct jsonl *j = state;
	event_render_native(&j->out, run, c);
	buf_addch(&j->out, '\n');
	if (j->out.len >= (1 << 20))
		return flush_out(j, e);
	return SD_OK;
}

static int jsonl_emit_doc(void *state, const struct sd_run_info *run, const struct sd_doc *d,
			  struct sderr *e)
{
	(void)run;
	struct jsonl *j = state;
	buf_add(&j->out, d->value, d->value_len);
	buf_addch(&j->out, '\n');
	if (j->out.len >= (1 << 20))
		return flush_out(j, e);
	return SD_OK;
}

static void close_fd(struct jsonl *j)
{
	if (j->fd > STDERR_FILENO)
		close(j->fd);
	j->fd = -1;
}

static int jsonl_commit(void *state, const struct sd_run_info *run, struct sderr *e)
{
	(void)run;
	struct jsonl *j = state;
	int rc = flush_out(j, e);
	if (rc)
		return rc;
	/* stdout may be a pipe or a terminal, where fsync means nothing */
	if (fsync(j->fd) < 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
		return fail(j, e, "cannot fsync", j->tmp_path ? j->tmp_path : j->conf->path);
	if (j->tmp_path) {
		close_fd(j);
		if (rename(j->tmp_path, j->final_path) < 0)
			return fail(j, e, "cannot rename into place", j->final_path);
		int dfd = open(j->conf->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(j->tmp_path);
		free(j->final_path);
		j->tmp_path = j->final_path = NULL;
	} else {
		close_fd(j);
	}
	return SD_OK;
}

static void jsonl_abort(void *state, const struct sd_run_info *run)
{
	(void)run;
	struct jsonl *j = state;
	buf_reset(&j->out);
	close_fd(j);
	if (j->tmp_path)
		unlink(j->tmp_path);
	free(j->tmp_path);
	free(j->final_path);
	j->tmp_path = j->final_path = NULL;
}

static void jsonl_close(void *state)
{
	struct jsonl *j = state;
	if (!j)
		return;
	jsonl_abort(j, NULL);
	buf_release(&j->out);
	free(j);
}

const struct sink_ops sink_jsonl_ops = {
	.type = "jsonl",
	.open = jsonl_open,
	.begin = jsonl_begin,
	.emit = jsonl_emit,
	.emit_doc = jsonl_emit_doc,
	.commit = jsonl_commit,
	.abort = jsonl_abort,
	.close = jsonl_close,
	.is_lake = false,
};
