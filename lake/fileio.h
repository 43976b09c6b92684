/*
 * fileio — the few file operations the Iceberg table layer needs, behind a
 * table of function pointers so object storage (S3 and the like) can be
 * added later without touching lake/iceberg.c or lake/catalog.c. Files are
 * named by URI: `file:/abs/path`, `file:///abs/path`, or a bare absolute
 * path. Only the local file system is implemented (fio_local()).
 *
 * Every function returns 0 or an sd_code with the message in *e; none prints.
 */
#ifndef SD_FILEIO_H
#define SD_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Returned (and left in e->code) by fio_rename_noreplace when the target exists. */
#define FIO_EXISTS 1100
/* Returned by fio_read/fio_remove/fio_size when the file is not there. */
#define FIO_NOT_FOUND 1101

struct fio;
struct fio_file;

struct fio_entry {
	char *uri;
	int64_t size;
	int64_t mtime_ms;
};

struct fio_ops {
	int (*create)(struct fio *io, const char *uri, struct fio_file **out, struct sderr *e);
	int (*write)(struct fio_file *f, const void *p, size_t n);
	int (*close)(struct fio_file *f, uint64_t *size, struct sderr *e);
	void (*abort)(struct fio_file *f);
	int (*read)(struct fio *io, const char *uri, struct buf *out, struct sderr *e);
	int (*rename_noreplace)(struct fio *io, const char *from, const char *to, struct sderr *e);
	int (*rename)(struct fio *io, const char *from, const char *to, struct sderr *e);
	int (*remove)(struct fio *io, const char *uri, struct sderr *e);
	int (*list)(struct fio *io, const char *dir_uri, struct fio_entry **out, size_t *n,
		    struct sderr *e);
	int (*mkdirs)(struct fio *io, const char *dir_uri, struct sderr *e);
};

struct fio {
	const struct fio_ops *ops;
	void *ctx;
};

/* The local file system (a static object: never freed). */
struct fio *fio_local(void);

/*
 * Opens uri for writing, creating parent directories and truncating an
 * existing file. Bytes go through fio_write (which has the pq_write_fn /
 * avro_write_fn shape, so a struct fio_file * can be handed to pq_open or
 * avro_writer_new as their ctx), and become durable with fio_close (fsync
 * + close; *size = bytes written, may be NULL). fio_abort closes and removes
 * the file. Exactly one of fio_close / fio_abort must be called.
 */
int fio_create(struct fio *io, const char *uri, struct fio_file **out, struct sderr *e);
int fio_write(void *file, const void *p, size_t n);
int fio_close(struct fio_file *f, uint64_t *size, struct sderr *e);
void fio_abort(struct fio_file *f);

/* Writes a whole file in one go (create + write + close). */
int fio_write_all(struct fio *io, const char *uri, const void *p, size_t n, struct sderr *e);
/* Reads a whole (small) file into out (replacing its contents). */
int fio_read(struct fio *io, const char *uri, struct buf *out, struct sderr *e);
/* Atomic rename that fails with FIO_EXISTS instead of replacing the target. */
int fio_rename_noreplace(struct fio *io, const char *from, const char *to, struct sderr *e);
/* Atomic rename that replaces the target. */
int fio_rename(struct fio *io, const char *from, const char *to, struct sderr *e);
int fio_remove(struct fio *io, const char *uri, struct sderr *e);
/*
 * Every regular file below dir_uri, recursively, named with the same URI
 * prefix as dir_uri. A missing directory is an empty list. Free with
 * fio_entries_free.
 */
int fio_list(struct fio *io, const char *dir_uri, struct fio_entry **out, size_t *n,
	     struct sderr *e);
void fio_entries_free(struct fio_entry *v, size_t n);
int fio_mkdirs(struct fio *io, const char *dir_uri, struct sderr *e);

/* The local path of a file: URI (or absolute path), or NULL if it is not one. */
const char *fio_local_path(const char *uri);

#endif
