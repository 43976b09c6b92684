/*
 * rawscan — the benchmark's baseline: stream every row of one table in
 * primary-key order with libmariadb and do nothing else. Two modes, the
 * text protocol (mysql_use_result) and the binary protocol (a server-side
 * prepared statement, what snapdiff uses), so the ratio compares like with like.
 *
 *   rawscan SOCKET USER PASSWORD_FILE DB TABLE ORDER_BY {text|binary}
 * prints: {"rows":N,"bytes":N,"seconds":F}
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: rawscan SOCKET USER PASSWORD_FILE DB TABLE ORDER_BY text|binary\n");
		return 2;
	}
	char pw[256] = "";
	FILE *f = fopen(argv[3], "r");
	if (f) {
		if (!fgets(pw, sizeof(pw), f))
			pw[0] = '\0';
		fclose(f);
		pw[strcspn(pw, "\n")] = '\0';
	}
	MYSQL *my = mysql_init(NULL);
	if (!mysql_real_connect(my, "localhost", argv[2], pw, argv[4], 0, argv[1], 0)) {
		fprintf(stderr, "rawscan: %s\n", mysql_error(my));
		return 1;
	}
	char q[512];
	snprintf(q, sizeof(q), "SELECT * FROM `%s` ORDER BY `%s`", argv[5], argv[6]);
	long long rows = 0, bytes = 0;
	double t0 = mono();
	if (strcmp(argv[7], "text") == 0) {
		if (mysql_query(my, q)) {
			fprintf(stderr, "rawscan: %s\n", mysql_error(my));
			return 1;
		}
		MYSQL_RES *r = mysql_use_result(my);
		unsigned n = mysql_num_fields(r);
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(r))) {
			unsigned long *len = mysql_fetch_lengths(r);
			for (unsigned i = 0; i < n; i++)
				bytes += (long long)len[i];
			rows++;
		}
		mysql_free_result(r);
	} else {
		MYSQL_STMT *st = mysql_stmt_init(my);
		if (mysql_stmt_prepare(st, q, strlen(q)) || mysql_stmt_execute(st)) {
			fprintf(stderr, "rawscan: %s\n", mysql_stmt_error(st));
			return 1;
		}
		unsigned n = mysql_stmt_field_count(st);
		MYSQL_BIND *b = calloc(n, sizeof(*b));
		unsigned long *len = calloc(n, sizeof(*len));
		char (*buf)[512] = calloc(n, 512);
		for (unsigned i = 0; i < n; i++) {
			b[i].buffer_type = MYSQL_TYPE_BLOB;
			b[i].buffer = buf[i];
			b[i].buffer_length = 512;
			b[i].length = &len[i];
		}
		mysql_stmt_bind_result(st, b);
		int rc;
		while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
			for (unsigned i = 0; i < n; i++)
				bytes += (long long)len[i];
			rows++;
		}
		mysql_stmt_close(st);
		free(b);
		free(len);
		free(buf);
	}
	printf("{\"rows\":%lld,\"bytes\":%lld,\"seconds\":%.3f}\n", rows, bytes, mono() - t0);
	mysql_close(my);
	return 0;
}
