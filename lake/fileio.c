/*
 * fileio — local file system implementation of the fio_* interface the
 * Iceberg table layer writes through. Durability matters more than speed
 * here: a metadata file or manifest that a catalog points at must be on disk
 * before the catalog pointer moves, so fio_close fsyncs the file and, for
 * new files, their directory; the no-replace rename is link()+unlink() (or
 * renameat2 with RENAME_NOREPLACE) because rename(2) silently replaces, which
 * would let two Hadoop-catalog committers both "win" the same version.
 */
#include "lake/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct fio_file {
	struct fio *io;
	int fd;
	char *path;
	uint64_t written;
	int err; /* errno of the first failed write */
};

const char *fio_local_path(const char *uri)
{
	if (!uri)
		return NULL;
	if (uri[0] == '/')
		return uri;
	if (strncmp(uri, "file:", 5) != 0)
		return NULL;
	const char *p = uri + 5;
	if (strncmp(p, "//", 2) == 0) {
		p += 2;
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		else if (*p != '/')
			return NULL; /* a remote host */
	}
	return *p == '/' ? p : NULL;
}

static int bad_uri(struct sderr *e, const char *uri)
{
	return sderr_set(e, SD_ERR_SINK, "not a local file URI: %s", uri ? uri : "(null)");
}

/* mkdir -p of path's parent directories (or of path itself when whole). */
static int mkdirs_path(const char *path, int whole, struct sderr *e)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(tmp))
		return sderr_set(e, SD_ERR_SINK, "path too long: %s", path);
	memcpy(tmp, path, n + 1);
	if (!whole) {
		char *slash = strrchr(tmp, '/');
		if (!slash || slash == tmp)
			return 0;
		*slash = '\0';
	}
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
				return sderr_set(e, SD_ERR_SINK, "mkdir %s: %s", tmp, strerror(errno));
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

static void fsync_dir_of(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(tmp))
		return;
	memcpy(tmp, path, n + 1);
	char *slash = strrchr(tmp, '/');
	if (!slash)
		return;
	if (slash == tmp)
		slash[1] = '\0';
	else
		*slash = '\0';
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

static int local_create(struct fio *io, const char *uri, struct fio_file **out, struct sderr *e)
{
	const char *path = fio_local_path(uri);
	if (!path)
		return bad_uri(e, uri);
	if (mkdirs_path(path, 0, e))
		return e ? e->code : SD_ERR_SINK;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return sderr_set(e, SD_ERR_SINK, "create %s: %s", path, strerror(errno));
	struct fio_file *f = xcalloc(1, sizeof(*f));
	f->io = io;
	f->fd = fd;
	f->path = xstrdup(path);
	*out = f;
	return 0;
}

static int local_write(struct fio_file *f, const void *p, size_t n)
{
	const char *c = p;
	if (f->err)
		return -1;
	while (n) {
		ssize_t w = write(f->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			f->err = errno;
			return -1;
		}
		c += w;
		n -= (size_t)w;
		f->written += (uint64_t)w;
	}
	return 0;
}

static void file_free(struct fio_file *f)
{
	free(f->path);
	free(f);
}

static int local_close(struct fio_file *f, uint64_t *size, struct sderr *e)
{
	int rc = 0;
	if (f->err)
		rc = sderr_set(e, SD_ERR_SINK, "write %s: %s", f->path, strerror(f->err));
	else if (fsync(f->fd) != 0)
		rc = sderr_set(e, SD_ERR_SINK, "fsync %s: %s", f->path, strerror(errno));
	if (close(f->fd) != 0 && !rc)
		rc = sderr_set(e, SD_ERR_SINK, "close %s: %s", f->path, strerror(errno));
	if (rc)
		(void)unlink(f->path);
	else
		fsync_dir_of(f->path);
	if (size)
		*size = f->written;
	file_free(f);
	return rc;
}

static void local_abort(struct fio_file *f)
{
	close(f->fd);
	(void)unlink(f->path);
	file_free(f);
}

static int local_read(struct fio *io, const char *uri, struct buf *out, struct sderr *e)
{
	(void)io;
	const char *path = fio_local_path(uri);
	if (!path)
		return bad_uri(e, uri);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return sderr_set(e, FIO_NOT_FOUND, "%s: no such file", path);
		return sderr_set(e, SD_ERR_SINK, "open %s: %s", path, strerror(errno));
	}
	buf_reset(out);
	for (;;) {
		buf_grow(out, 65536);
		ssize_t r = read(fd, out->p + out->len, out->cap - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			return sderr_set(e, SD_ERR_SINK, "read %s: %s", path, strerror(err));
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		out->p[out->len] = '\0';
	}
	close(fd);
	return 0;
}

static int local_rename_noreplace(struct fio *io, const char *from, const char *to,
				  struct sderr *e)
{
	(void)io;
	const char *pf = fio_local_path(from), *pt = fio_local_path(to);
	if (!pf || !pt)
		return bad_uri(e, pf ? to : from);
#ifdef SYS_renameat2
	/* RENAME_NOREPLACE = 1; not every file system has it, hence the fallback. */
	if (syscall(SYS_renameat2, AT_FDCWD, pf, AT_FDCWD, pt, 1u) == 0) {
		fsync_dir_of(pt);
		return 0;
	}
	if (errno == EEXIST)
		return sderr_set(e, FIO_EXISTS, "%s already exists", pt);
	if (errno != EINVAL && errno != ENOSYS)
		return sderr_set(e, SD_ERR_SINK, "rename %s -> %s: %s", pf, pt, strerror(errno));
#endif
	if (link(pf, pt) != 0) {
		if (errno == EEXIST)
			return sderr_set(e, FIO_EXISTS, "%s already exists", pt);
		return sderr_set(e, SD_ERR_SINK, "link %s -> %s: %s", pf, pt, strerror(errno));
	}
	(void)unlink(pf);
	fsync_dir_of(pt);
	return 0;
}

static int local_rename(struct fio *io, const char *from, const char *to, struct sderr *e)
{
	(void)io;
	const char *pf = fio_local_path(from), *pt = fio_local_path(to);
	if (!pf || !pt)
		return bad_uri(e, pf ? to : from);
	if (rename(pf, pt) != 0)
		return sderr_set(e, SD_ERR_SINK, "rename %s -> %s: %s", pf, pt, strerror(errno));
	fsync_dir_of(pt);
	return 0;
}

static int local_remove(struct fio *io, const char *uri, struct sderr *e)
{
	(void)io;
	const char *path = fio_local_path(uri);
	if (!path)
		return bad_uri(e, uri);
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return sderr_set(e, FIO_NOT_FOUND, "%s: no such file", path);
		return sderr_set(e, SD_ERR_SINK, "remove %s: %s", path, strerror(errno));
	}
	return 0;
}

struct listing {
	struct fio_entry *v;
	size_t n, cap;
};

static int list_rec(const char *path, const char *uri, struct listing *l, struct sderr *e)
{
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return sderr_set(e, SD_ERR_SINK, "opendir %s: %s", path, strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct buf p = BUF_INIT, u = BUF_INIT;
		buf_addf(&p, "%s/%s", path, de->d_name);
		buf_addf(&u, "%s/%s", uri, de->d_name);
		struct stat st;
		if (lstat(p.p, &st) != 0) {
			if (errno != ENOENT) /* raced with a delete: not an error */
				rc = sderr_set(e, SD_ERR_SINK, "stat %s: %s", p.p, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			rc = list_rec(p.p, u.p, l, e);
		} else if (S_ISREG(st.st_mode)) {
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 64;
				l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
			}
			struct fio_entry *en = &l->v[l->n++];
			en->uri = buf_detach(&u, NULL);
			en->size = (int64_t)st.st_size;
			en->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		}
		buf_release(&p);
		buf_release(&u);
	}
	closedir(d);
	return rc;
}

static int local_list(struct fio *io, const char *dir_uri, struct fio_entry **out, size_t *n,
		      struct sderr *e)
{
	(void)io;
	const char *path = fio_local_path(dir_uri);
	if (!path)
		return bad_uri(e, dir_uri);
	struct listing l = { NULL, 0, 0 };
	/* Entries keep the caller's spelling of the prefix, minus a trailing '/'. */
	char *uri = xstrdup(dir_uri), *p = xstrdup(path);
	for (size_t k = strlen(uri); k > 1 && uri[k - 1] == '/'; k--)
		uri[k - 1] = '\0';
	for (size_t k = strlen(p); k > 1 && p[k - 1] == '/'; k--)
		p[k - 1] = '\0';
	int rc = list_rec(p, uri, &l, e);
	free(uri);
	free(p);
	if (rc) {
		fio_entries_free(l.v, l.n);
		return rc;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static int local_mkdirs(struct fio *io, const char *dir_uri, struct sderr *e)
{
	(void)io;
	const char *path = fio_local_path(dir_uri);
	if (!path)
		return bad_uri(e, dir_uri);
	return mkdirs_path(path, 1, e);
}

static const struct fio_ops local_ops = {
	.create = local_create,
	.write = local_write,
	.close = local_close,
	.abort = local_abort,
	.read = local_read,
	.rename_noreplace = local_rename_noreplace,
	.rename = local_rename,
	.remove = local_remove,
	.list = local_list,
	.mkdirs = local_mkdirs,
};

struct fio *fio_local(void)
{
	static struct fio local = { &local_ops, NULL };
	return &local;
}

int fio_create(struct fio *io, const char *uri, struct fio_file **out, struct sderr *e)
{
	return io->ops->create(io, uri, out, e);
}

int fio_write(void *file, const void *p, size_t n)
{
	struct fio_file *f = file;
	return f->io->ops->write(f, p, n);
}

int fio_close(struct fio_file *f, uint64_t *size, struct sderr *e)
{
	return f->io->ops->close(f, size, e);
}

void fio_abort(struct fio_file *f)
{
	f->io->ops->abort(f);
}

int fio_write_all(struct fio *io, const char *uri, const void *p, size_t n, struct sderr *e)
{
	struct fio_file *f;
	int rc = fio_create(io, uri, &f, e);
	if (rc)
		return rc;
	/* A failed write is reported by fio_close, which then removes the file. */
	(void)fio_write(f, p, n);
	return fio_close(f, NULL, e);
}

int fio_read(struct fio *io, const char *uri, struct buf *out, struct sderr *e)
{
	return io->ops->read(io, uri, out, e);
}

int fio_rename_noreplace(struct fio *io, const char *from, const char *to, struct sderr *e)
{
	return io->ops->rename_noreplace(io, from, to, e);
}

int fio_rename(struct fio *io, const char *from, const char *to, struct sderr *e)
{
	return io->ops->rename(io, from, to, e);
}

int fio_remove(struct fio *io, const char *uri, struct sderr *e)
{
	return io->ops->remove(io, uri, e);
}

int fio_list(struct fio *io, const char *dir_uri, struct fio_entry **out, size_t *n,
	     struct sderr *e)
{
	*out = NULL;
	*n = 0;
	return io->ops->list(io, dir_uri, out, n, e);
}

void fio_entries_free(struct fio_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].uri);
	free(v);
}

int fio_mkdirs(struct fio *io, const char *dir_uri, struct sderr *e)
{
	return io->ops->mkdirs(io, dir_uri, e);
}
