/*
 * sink_kafka — delivers a run's changes to Apache Kafka with librdkafka.
 *
 * One message per change: the key is the primary key as JSON (so Kafka's
 * partitioner keeps every change of a row in one partition, in order, and log
 * compaction keeps the latest state of each row), the value is the native
 * event or a Debezium envelope, and a delete is followed by a tombstone (a
 * null value under the same key) unless tombstones are off. Headers carry the
 * run id and the deterministic event id, which consumers use to drop the
 * duplicates a rerun after a crash produces.
 *
 * Durability: the producer is idempotent with acks=all, and commit() waits for
 * every delivery report. A run is committed to state only when commit()
 * returned 0, so a broker that is down, a denied topic or an oversized message
 * fails the run and leaves state where it was; the rerun sends the same events
 * again (at-least-once). With `transactional: true` each run is one Kafka
 * transaction, so read_committed consumers see all of a run or nothing.
 *
 * Producers: a non-transactional sink keeps one producer for the whole
 * process and rebuilds it after a failed run (a purged idempotent producer is
 * best replaced). A transactional sink creates a producer per run, because
 * transactional.id must be stable per (database, table) for zombie fencing and
 * one producer can only own one id; runs are minutes apart, so the handshake
 * cost (InitProducerId) is negligible, and a long-lived scheduler does not
 * accumulate one producer (and its threads) per table it ever ran.
 *
 * The sink serves one run at a time (begin .. commit/abort); librdkafka's
 * callbacks run inside rd_kafka_poll/flush on the caller's thread, so the
 * delivery counters need no lock. The sink never prints: librdkafka's log
 * lines are routed through its queue into log.h at debug level, and errors
 * are returned in struct sderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "config.h"
#include "debezium.h"
#include "error.h"
#include "event.h"
#include "log.h"
#include "sink.h"

#define KAFKA_TOPIC_MAX 249

struct kafka_sink {
	const struct cfg_sink *conf;
	const char *name;            /* conf->name or "kafka", for messages */
	rd_kafka_conf_t *base;       /* validated properties; duplicated per producer */
	rd_kafka_t *rk;              /* the shared producer, or the run's transactional one */
	bool in_txn;                 /* a transaction is open on rk */
	int flush_ms;

	/* per run */
	char topic[KAFKA_TOPIC_MAX + 1];
	struct buf key, val, tmp;
	char event_id[33];
	int64_t produced;            /* messages handed to librdkafka since begin() */
	int64_t delivered;
	int64_t failed;
	char first_fail[512];        /* the first failed delivery report */
	char last_error[512];        /* the last client-level error (broker down, auth) */
	bool fatal;                  /* librdkafka raised a fatal error: rebuild rk */
	bool warned_images;          /* the missing before-image warning was logged */

	/* envelope: debezium marks the last snapshot event of a run "last", so
	 * one snapshot change is held back until the next one or commit(). */
	bool held;
	struct sd_change held_change;
	struct buf held_bytes;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ callbacks */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct kafka_sink *ks = opaque;
	if (!m->err) {
		ks->delivered++;
		return;
	}
	if (ks->failed++ == 0)
		snprintf(ks->first_fail, sizeof(ks->first_fail), "topic '%s' partition %d: %s",
			 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *ks = opaque;
	snprintf(ks->last_error, sizeof(ks->last_error), "%s", reason);
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[256];
		rd_kafka_fatal_error(rk, why, sizeof(why));
		snprintf(ks->last_error, sizeof(ks->last_error), "fatal: %s", why);
		ks->fatal = true;
	}
	LOG_DEBUG("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *msg)
{
	(void)rk;
	/* syslog levels: 0-3 errors, 4 warnings; librdkafka repeats real errors
	 * through on_error, and retried connection failures are normal noise
	 * while a broker restarts, so nothing here is above debug. */
	(void)level;
	LOG_DEBUG("kafka %s: %s", fac, msg);
}

/* ------------------------------------------------------------- configuration */

static int set_prop(struct kafka_sink *ks, rd_kafka_conf_t *c, const char *k, const char *v,
		    struct sderr *e)
{
	char errstr[512];
	if (rd_kafka_conf_set(c, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return sderr_set(e, SD_ERR_CONFIG, "sink '%s' property '%s': %s", ks->name, k,
				 errstr);
	return SD_OK;
}

static bool is_prop(const char *k, const char *a, const char *b)
{
	return strcmp(k, a) == 0 || (b && strcmp(k, b) == 0);
}

static bool has_prop(const struct cfg_sink *conf, const char *a, const char *b)
{
	for (size_t i = 0; i < conf->n_properties; i++)
		if (is_prop(conf->properties[i].key, a, b))
			return true;
	return false;
}

/* Builds the base configuration: snapdiff's defaults, then the user's
 * properties in file order (so they win), then what the delivery guarantee
 * cannot do without. */
static int build_conf(struct kafka_sink *ks, const struct cfg_sink *conf, struct sderr *e)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char num[32];
	int rc;
	ks->base = c;

	if (!conf->brokers || !*conf->brokers)
		return sderr_set(e, SD_ERR_CONFIG, "sink '%s': brokers is required", ks->name);
	if ((rc = set_prop(ks, c, "bootstrap.servers", conf->brokers, e)))
		return rc;
	if ((rc = set_prop(ks, c, "client.id", "snapdiff", e)))
		return rc;
	/* JSON events compress 5-10x; every broker since Kafka 2.1 takes zstd. */
	if ((rc = set_prop(ks, c, "compression.codec", "zstd", e)))
		return rc;
	/* Java's default partitioner hashes keys with murmur2: the same row lands
	 * in the same partition whichever client wrote it. */
	if ((rc = set_prop(ks, c, "partitioner", "murmur2_random", e)))
		return rc;
	/* Messages that cannot be delivered fail within the flush window instead
	 * of being retried for librdkafka's default five minutes. */
	snprintf(num, sizeof(num), "%d", ks->flush_ms);
	if ((rc = set_prop(ks, c, "message.timeout.ms", num, e)))
		return rc;
	if (conf->transactional) {
		/* A run's transaction lasts as long as its delivery; librdkafka's 60 s
		 * default would abort big initial loads. 15 min is the broker's
		 * default transaction.max.timeout.ms. */
		if ((rc = set_prop(ks, c, "transaction.timeout.ms", "900000", e)))
			return rc;
	}
	for (size_t i = 0; i < conf->n_properties; i++) {
		const struct cfg_kv *kv = &conf->properties[i];
		if (is_prop(kv->key, "enable.idempotence", NULL) && strcmp(kv->value, "true") != 0)
			return sderr_set(e, SD_ERR_CONFIG,
					 "sink '%s' property '%s': snapdiff needs an idempotent "
					 "producer (remove the property)", ks->name, kv->key);
		if (is_prop(kv->key, "transactional.id", NULL))
			return sderr_set(e, SD_ERR_CONFIG,
					 "sink '%s' property '%s': set transactional: true and "
					 "transactional_id_prefix instead", ks->name, kv->key);
		if (is_prop(kv->key, "sasl.password", NULL))
			return sderr_set(e, SD_ERR_CONFIG,
					 "sink '%s' property '%s': secrets are not written in the "
					 "file; use sasl_password_env or sasl_password_file",
					 ks->name, kv->key);
		if ((rc = set_prop(ks, c, kv->key, kv->value, e)))
			return rc;
	}
	if ((rc = set_prop(ks, c, "enable.idempotence", "true", e)))
		return rc;
	if (!has_prop(conf, "acks", "request.required.acks") &&
	    (rc = set_prop(ks, c, "acks", "all", e)))
		return rc;
	if (conf->transactional && has_prop(conf, "message.timeout.ms", NULL) == false) {
		/* librdkafka requires message.timeout.ms <= transaction.timeout.ms */
		char v[32];
		size_t n = sizeof(v);
		if (rd_kafka_conf_get(c, "transaction.timeout.ms", v, &n) == RD_KAFKA_CONF_OK &&
		    atol(v) < ks->flush_ms && (rc = set_prop(ks, c, "message.timeout.ms", v, e)))
			return rc;
	}

	char *pw = NULL;
	char what[128];
	snprintf(what, sizeof(what), "sink '%s' sasl_password", ks->name);
	if ((rc = cfg_resolve_secret(&conf->sasl_password, what, &pw, e)))
		return rc;
	if (pw) {
		log_add_secret(pw);
		rc = set_prop(ks, c, "sasl.password", pw, e);
		memset(pw, 0, strlen(pw));
		free(pw);
		if (rc)
			return rc;
	}
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_log_cb(c, on_log);
	/* log lines go to the main queue and are served by poll() on our
	 * thread instead of being written by librdkafka's threads */
	return set_prop(ks, c, "log.queue", "true", e);
}

/* Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". */
static bool valid_topic(const char *t, size_t len)
{
	if (len == 0 || len > KAFKA_TOPIC_MAX || !strcmp(t, ".") || !strcmp(t, ".."))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = t[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* Expands topic_template; returns -1 naming the bad placeholder in e. */
static int expand_topic(struct kafka_sink *ks, const char *db, const char *tbl, char *out,
			size_t cap, struct sderr *e)
{
	const char *tpl = ks->conf->topic_template ? ks->conf->topic_template
						   : "{prefix}.{database}.{table}";
	const char *prefix = ks->conf->topic_prefix ? ks->conf->topic_prefix : "snapdiff";
	struct buf b = BUF_INIT;
	for (const char *p = tpl; *p;) {
		if (*p != '{') {
			buf_addch(&b, *p++);
			continue;
		}
		const char *close = strchr(p, '}');
		size_t n = close ? (size_t)(close - p + 1) : strlen(p);
		if (n == 8 && !strncmp(p, "{prefix}", n))
			buf_addstr(&b, prefix);
		else if (n == 10 && !strncmp(p, "{database}", n))
			buf_addstr(&b, db);
		else if (n == 7 && !strncmp(p, "{table}", n))
			buf_addstr(&b, tbl);
		else {
			sderr_set(e, SD_ERR_CONFIG,
				  "sink '%s': topic_template '%s': unknown placeholder '%.*s' "
				  "(use {prefix}, {database}, {table})",
				  ks->name, tpl, (int)n, p);
			buf_release(&b);
			return -1;
		}
		p += n;
	}
	if (!valid_topic(b.p ? b.p : "", b.len)) {
		sderr_set(e, SD_ERR_CONFIG,
			  "sink '%s': topic '%s' is not a valid Kafka topic name "
			  "(1-249 of [a-zA-Z0-9._-])", ks->name, b.len ? b.p : "");
		buf_release(&b);
		return -1;
	}
	snprintf(out, cap, "%s", b.p);
	buf_release(&b);
	return 0;
}

/* --------------------------------------------------------------- producers */

static int producer_new(struct kafka_sink *ks, const char *txn_id, struct sderr *e)
{
	char errstr[512];
	rd_kafka_conf_t *c = rd_kafka_conf_dup(ks->base);
	rd_kafka_conf_set_opaque(c, ks);
	if (txn_id && set_prop(ks, c, "transactional.id", txn_id, e)) {
		rd_kafka_conf_destroy(c);
		return e->code;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return sderr_set(e, SD_ERR_CONFIG, "sink '%s': %s", ks->name, errstr);
	}
	rd_kafka_set_log_queue(rk, NULL);
	ks->rk = rk;
	ks->fatal = false;
	return SD_OK;
}

/* Drops what is still queued, collects the resulting delivery reports and
 * destroys the producer. Used after failures, where waiting is pointless. */
static void producer_drop(struct kafka_sink *ks)
{
	if (!ks->rk)
		return;
	rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
				       RD_KAFKA_PURGE_F_NON_BLOCKING);
	rd_kafka_poll(ks->rk, 0);
	rd_kafka_destroy(ks->rk);
	ks->rk = NULL;
	ks->in_txn = false;
}

/* Runs a transactional API call's error object into e; frees it. */
static int txn_error(struct kafka_sink *ks, rd_kafka_error_t *err, const char *what,
		     const struct sd_run_info *run, struct sderr *e)
{
	/* the transaction calls do not serve callbacks: collect the client's
	 * last error (connection refused, authentication) for the message */
	rd_kafka_poll(ks->rk, 0);
	sderr_set(e, SD_ERR_SINK, "sink '%s': %s for %s.%s failed: %s%s%s%s", ks->name, what,
		  run->db, run->tbl, rd_kafka_error_string(err),
		  ks->last_error[0] ? " (last error: " : "", ks->last_error,
		  ks->last_error[0] ? ")" : "");
	rd_kafka_error_destroy(err);
	return SD_ERR_SINK;
}

/* ----------------------------------------------------------------- sink ops */

static void kafka_close(void *state);

static int kafka_open(void **state, const struct cfg_sink *conf, const struct cfg *cfg,
		      struct sderr *e)
{
	(void)cfg;
	struct kafka_sink *ks = xcalloc(1, sizeof(*ks));
	ks->conf = conf;
	ks->name = conf->name && *conf->name ? conf->name : "kafka";
	double ft = conf->flush_timeout > 0 ? conf->flush_timeout : 60;
	ks->flush_ms = ft * 1000 > 86400000 ? 86400000 : (int)(ft * 1000);
	int rc = build_conf(ks, conf, e);
	if (rc) {
		kafka_close(ks);
		return rc;
	}
	/* A placeholder typo should fail before any table is scanned. */
	char topic[KAFKA_TOPIC_MAX + 1];
	if (expand_topic(ks, "db", "table", topic, sizeof(topic), e) < 0) {
		kafka_close(ks);
		return e->code;
	}
	/* Creating a producer checks the properties against each other (acks
	 * vs idempotence, message vs transaction timeout) now rather than at
	 * the first run. Connecting happens in the background and is not
	 * waited for: a broker that is down fails the delivery, not the open. */
	rc = producer_new(ks, conf->transactional ? "snapdiff.config-check" : NULL, e);
	if (rc) {
		kafka_close(ks);
		return rc;
	}
	if (conf->transactional) {
		rd_kafka_destroy(ks->rk);
		ks->rk = NULL;
	}
	*state = ks;
	return SD_OK;
}

static int kafka_begin(void *state, const struct sd_run_info *run, struct sderr *e)
{
	struct kafka_sink *ks = state;
	int rc;

	ks->produced = ks->delivered = ks->failed = 0;
	ks->first_fail[0] = ks->last_error[0] = '\0';
	ks->held = false;
	ks->warned_images = false;
	if (expand_topic(ks, run->db, run->tbl, ks->topic, sizeof(ks->topic), e) < 0)
		return e->code;

	if (ks->rk && ks->fatal)
		producer_drop(ks);
	if (!ks->conf->transactional) {
		if (!ks->rk && (rc = producer_new(ks, NULL, e)))
			return rc;
		return SD_OK;
	}

	char txn_id[512];
	snprintf(txn_id, sizeof(txn_id), "%s.%s.%s",
		 ks->conf->transactional_id_prefix ? ks->conf->transactional_id_prefix
						   : "snapdiff",
		 run->db, run->tbl);
	producer_drop(ks);
	if ((rc = producer_new(ks, txn_id, e)))
		return rc;
	rd_kafka_error_t *err = rd_kafka_init_transactions(ks->rk, ks->flush_ms);
	if (err) {
		rc = txn_error(ks, err, "init_transactions", run, e);
		producer_drop(ks);
		return rc;
	}
	err = rd_kafka_begin_transaction(ks->rk);
	if (err) {
		rc = txn_error(ks, err, "begin_transaction", run, e);
		producer_drop(ks);
		return rc;
	}
	ks->in_txn = true;
	return SD_OK;
}

static int delivery_failed(struct kafka_sink *ks, const struct sd_run_info *run,
			   struct sderr *e)
{
	return sderr_set(e, SD_ERR_SINK,
			 "sink '%s': %lld of %lld messages for %s.%s were not delivered; "
			 "first failure: %s%s%s%s",
			 ks->name, (long long)ks->failed, (long long)ks->produced, run->db, run->tbl,
			 ks->first_fail, ks->last_error[0] ? " (last error: " : "",
			 ks->last_error, ks->last_error[0] ? ")" : "");
}

/* Hands one message to librdkafka, waiting (at most flush_timeout) while its
 * queue is full. value NULL is a tombstone. The key is ks->key, the event id
 * ks->event_id. */
static int produce(struct kafka_sink *ks, const struct sd_run_info *run, const char *topic,
		   const char *op, const void *value, size_t value_len, struct sderr *e)
{
	int64_t deadline = 0;
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			ks->rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_KEY(ks->key.p, ks->key.len),
			RD_KAFKA_V_VALUE((void *)value, value_len),
			RD_KAFKA_V_HEADER("snapdiff-run-id", run->run_id, -1),
			RD_KAFKA_V_HEADER("snapdiff-event-id", ks->event_id, 32),
			RD_KAFKA_V_HEADER("snapdiff-op", op, -1), RD_KAFKA_V_END);
		if (!err)
			break;
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (!deadline)
				deadline = now_ms() + ks->flush_ms;
			else if (now_ms() > deadline)
				return sderr_set(e, SD_ERR_SINK,
						 "sink '%s': producer queue still full after %.1f s "
						 "(%lld messages unconfirmed)%s%s%s",
						 ks->name, ks->flush_ms / 1000.0,
						 (long long)(ks->produced - ks->delivered - ks->failed),
						 ks->last_error[0] ? " (last error: " : "",
						 ks->last_error, ks->last_error[0] ? ")" : "");
			rd_kafka_poll(ks->rk, 100);
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__FATAL)
			ks->fatal = true;
		return sderr_set(e, SD_ERR_SINK,
				 "sink '%s': cannot produce event %s to topic '%s' (%zu bytes): %s",
				 ks->name, ks->event_id, topic, value_len, rd_kafka_err2str(err));
	}
	ks->produced++;
	rd_kafka_poll(ks->rk, 0);
	return SD_OK;
}

static void set_event_id(struct kafka_sink *ks, const unsigned char id[16])
{
	buf_reset(&ks->tmp);
	event_hex_id(&ks->tmp, id);
	snprintf(ks->event_id, sizeof(ks->event_id), "%s", ks->tmp.p ? ks->tmp.p : "");
}

static int emit_one(struct kafka_sink *ks, const struct sd_run_info *run, const struct sd_change *c,
		    enum dbz_snapshot snap, struct sderr *e)
{
	int rc;
	bool dbz = ks->conf->envelope == CFG_ENVELOPE_DEBEZIUM;
	buf_reset(&ks->key);
	buf_reset(&ks->val);
	set_event_id(ks, c->id);

	if (dbz) {
		/* Flink and Debezium consumers retract the before-image of an
		 * update. Configuration validation demands keep_images; what is
		 * left is the first run after a schema change, whose stored images
		 * have the old layout. Failing would fail every rerun too, so the
		 * key stands in for the image, once said in the log. */
		if (c->op != SD_OP_INSERT && !c->before && !ks->warned_images) {
			ks->warned_images = true;
			LOG_WARN("sink '%s': no before-images for %s.%s in this run (keep_images "
				 "is off, or the schema changed): Debezium 'before' holds the "
				 "key columns only", ks->name, run->db, run->tbl);
		}
		if (dbz_render_key(&ks->key, run->table, c->key, c->key_len) < 0 ||
		    dbz_render_value(&ks->val, run, c, ks->conf->topic_prefix ? ks->conf->topic_prefix
									    : "snapdiff",
				     snap, now_ms()) < 0)
			return sderr_set(e, SD_ERR_INTERNAL,
					 "sink '%s': malformed row encoding for event %s",
					 ks->name, ks->event_id);
	} else {
		event_render_key(&ks->key, run->table, c->key, c->key_len);
		event_render_native(&ks->val, run, c);
	}
	if ((rc = produce(ks, run, ks->topic, event_op_name(c->op), ks->val.p, ks->val.len, e)))
		return rc;
	if (c->op == SD_OP_DELETE && ks->conf->tombstones &&
	    (rc = produce(ks, run, ks->topic, "tombstone", NULL, 0, e)))
		return rc;
	/* Stop early once the broker has refused something: the run fails
	 * anyway, and the rest would only pile up in the queue. */
	if (ks->failed)
		return delivery_failed(ks, run, e);
	return SD_OK;
}

static void hold(struct kafka_sink *ks, const struct sd_change *c)
{
	struct sd_change *h = &ks->held_change;
	buf_reset(&ks->held_bytes);
	*h = *c;
	buf_add(&ks->held_bytes, c->key, c->key_len);
	if (c->after)
		buf_add(&ks->held_bytes, c->after, c->after_len);
	if (c->before)
		buf_add(&ks->held_bytes, c->before, c->before_len);
	/* pointers are set after all appends: the buffer may have moved */
	const unsigned char *p = (const unsigned char *)ks->held_bytes.p;
	h->key = p;
	h->after = c->after ? p + c->key_len : NULL;
	h->before = c->before ? p + c->key_len + (c->after ? c->after_len : 0) : NULL;
	ks->held = true;
}

static int kafka_emit(void *state, const struct sd_run_info *run, const struct sd_change *c,
		      struct sderr *e)
{
	struct kafka_sink *ks = state;
	if (!ks->rk)
		return sderr_set(e, SD_ERR_INTERNAL, "sink '%s': emit() outside a run", ks->name);
	if (ks->conf->envelope != CFG_ENVELOPE_DEBEZIUM)
		return emit_one(ks, run, c, DBZ_SNAPSHOT_FALSE, e);

	int rc;
	if (ks->held) {
		ks->held = false;
		if ((rc = emit_one(ks, run, &ks->held_change, DBZ_SNAPSHOT_TRUE, e)))
			return rc;
	}
	if (c->snapshot && c->op == SD_OP_INSERT) {
		hold(ks, c);
		return SD_OK;
	}
	return emit_one(ks, run, c, DBZ_SNAPSHOT_FALSE, e);
}

/* A derived document (MediaWiki page_change) goes to the topic named by its
 * stream, as Wikimedia's event platform names topics after streams; the
 * envelope setting does not apply, the document is already rendered. */
static int kafka_emit_doc(void *state, const struct sd_run_info *run, const struct sd_doc *d,
			  struct sderr *e)
{
	struct kafka_sink *ks = state;
	int rc;
	if (!ks->rk)
		return sderr_set(e, SD_ERR_INTERNAL, "sink '%s': emit_doc() outside a run",
				 ks->name);
	if (!valid_topic(d->stream, strlen(d->stream)))
		return sderr_set(e, SD_ERR_CONFIG,
				 "sink '%s': stream '%s' is not a valid Kafka topic name", ks->name,
				 d->stream);
	buf_reset(&ks->key);
	buf_add(&ks->key, d->key, d->key_len);
	set_event_id(ks, d->id);
	if ((rc = produce(ks, run, d->stream, "doc", d->value, d->value_len, e)))
		return rc;
	if (ks->failed)
		return delivery_failed(ks, run, e);
	return SD_OK;
}

static int kafka_commit(void *state, const struct sd_run_info *run, struct sderr *e)
{
	struct kafka_sink *ks = state;
	int rc;
	if (!ks->rk)
		return sderr_set(e, SD_ERR_INTERNAL, "sink '%s': commit() outside a run", ks->name);
	if (ks->held) {
		ks->held = false;
		if ((rc = emit_one(ks, run, &ks->held_change, DBZ_SNAPSHOT_LAST, e)))
			return rc;
	}

	if (ks->in_txn) {
		/* commit_transaction flushes and fails if any message failed */
		rd_kafka_error_t *err = rd_kafka_commit_transaction(ks->rk, ks->flush_ms);
		if (err) {
			rc = txn_error(ks, err, "commit_transaction", run, e);
			if (ks->failed)
				delivery_failed(ks, run, e);
			rd_kafka_error_t *aerr = rd_kafka_abort_transaction(ks->rk, ks->flush_ms);
			if (aerr)
				rd_kafka_error_destroy(aerr);
			producer_drop(ks);
			return rc;
		}
		ks->in_txn = false;
		LOG_DEBUG("kafka: %lld messages committed to %s in one transaction",
			  (long long)ks->produced, ks->topic);
		rd_kafka_destroy(ks->rk);
		ks->rk = NULL;
		return SD_OK;
	}

	/* message.timeout.ms equals the flush window, so every message has a
	 * delivery report by then; the slack covers librdkafka's 1 s timeout
	 * scan. */
	rd_kafka_resp_err_t ferr = rd_kafka_flush(ks->rk, ks->flush_ms + 3000);
	if (ks->failed) {
		rc = delivery_failed(ks, run, e);
		producer_drop(ks);
		return rc;
	}
	if (ferr || rd_kafka_outq_len(ks->rk) > 0 || ks->delivered < ks->produced) {
		rc = sderr_set(e, SD_ERR_SINK,
			       "sink '%s': %lld of %lld messages for %s.%s not confirmed within "
			       "flush_timeout (%.1f s)%s%s",
			       ks->name, (long long)(ks->produced - ks->delivered),
			       (long long)ks->produced, run->db, run->tbl, ks->flush_ms / 1000.0,
			       ks->last_error[0] ? "; last error: " : "", ks->last_error);
		producer_drop(ks);
		return rc;
	}
	LOG_DEBUG("kafka: %lld messages delivered to %s", (long long)ks->delivered, ks->topic);
	return SD_OK;
}

static void kafka_abort(void *state, const struct sd_run_info *run)
{
	(void)run;
	struct kafka_sink *ks = state;
	ks->held = false;
	if (!ks->rk)
		return;
	if (ks->in_txn) {
		rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
		rd_kafka_error_t *err = rd_kafka_abort_transaction(ks->rk, ks->flush_ms);
		if (err) {
			LOG_WARN("sink '%s': abort_transaction: %s", ks->name,
				 rd_kafka_error_string(err));
			rd_kafka_error_destroy(err);
		}
	}
	/* Without a transaction what has reached the broker stays there; what
	 * has not is dropped, and the producer is rebuilt for the next run. */
	producer_drop(ks);
}

static void kafka_close(void *state)
{
	struct kafka_sink *ks = state;
	if (!ks)
		return;
	if (ks->rk) {
		/* commit() already waited for everything that mattered */
		rd_kafka_flush(ks->rk, 1000);
		rd_kafka_destroy(ks->rk);
	}
	if (ks->base)
		rd_kafka_conf_destroy(ks->base);
	buf_release(&ks->key);
	buf_release(&ks->val);
	buf_release(&ks->tmp);
	buf_release(&ks->held_bytes);
	free(ks);
}

const struct sink_ops sink_kafka_ops = {
	.type = "kafka",
	.open = kafka_open,
	.begin = kafka_begin,
	.emit = kafka_emit,
	.emit_doc = kafka_emit_doc,
	.commit = kafka_commit,
	.abort = kafka_abort,
	.close = kafka_close,
	.is_lake = false,
};
