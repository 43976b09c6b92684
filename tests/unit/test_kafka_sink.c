/*
 * test_kafka_sink — the Kafka sink against librdkafka's in-process mock
 * cluster: message layout (keys, values, headers, tombstones), configuration
 * errors, and the faults a real broker cannot be made to produce on demand
 * (a Produce request refused with an authorization error). The real broker
 * tests are tests/integration/test_kafka.py; these need no external process.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "buf.h"
#include "config.h"
#include "encode.h"
#include "sink.h"

struct mock {
	rd_kafka_t *owner;              /* the handle the mock cluster lives in */
	rd_kafka_mock_cluster_t *mc;
	char bootstraps[256];
};

static int mock_start(struct mock *m)
{
	char errstr[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "log_level", "0", NULL, 0);
	m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!m->owner)
		return -1;
	m->mc = rd_kafka_mock_cluster_new(m->owner, 1);
	if (!m->mc)
		return -1;
	snprintf(m->bootstraps, sizeof(m->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
	return 0;
}

static void mock_stop(struct mock *m)
{
	if (m->mc)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->owner)
		rd_kafka_destroy(m->owner);
}

/* Every message of partition 0 of topic, as "key|value|op-header|event-id". */
static int consume_all(const char *bootstraps, const char *topic, int want, char out[][512])
{
	char errstr[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, NULL, 0);
	rd_kafka_conf_set(c, "group.id", "test", NULL, 0);
	rd_kafka_conf_set(c, "log_level", "0", NULL, 0);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
	if (!rk)
		return -1;
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	int n = 0;
	time_t deadline = time(NULL) + 10;
	while (n < want && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (!m->err) {
			rd_kafka_headers_t *h = NULL;
			const void *op = NULL, *id = NULL;
			size_t oplen = 0, idlen = 0;
			if (rd_kafka_message_headers(m, &h) == 0) {
				rd_kafka_header_get_last(h, "snapdiff-op", &op, &oplen);
				rd_kafka_header_get_last(h, "snapdiff-event-id", &id, &idlen);
			}
			snprintf(out[n], 512, "%.*s|%.*s|%.*s|%.*s", (int)m->key_len,
				 (const char *)m->key, m->payload ? (int)m->len : 4,
				 m->payload ? (const char *)m->payload : "NULL", (int)oplen,
				 (const char *)op, (int)idlen, (const char *)id);
			n++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

/* One table: id BIGINT primary key, name VARCHAR. */
static struct sd_column cols[2] = {
	{ .name = (char *)"id", .kind = ENC_INT, .pk_pos = 1 },
	{ .name = (char *)"name", .kind = ENC_TEXT },
};
static size_t pk[1] = { 0 };
static struct sd_table table = { .db = (char *)"w", .name = (char *)"t", .cols = cols,
				 .ncols = 2, .nhashed = 2, .pk = pk, .npk = 1 };
static struct sd_run_info run = { .run_id = "w.t.1", .db = "w", .tbl = "t", .generation = 1,
				  .table = &table, .gtid_binlog_pos = "", .gtid_current_pos = "",
				  .snapshot_time = "2024-01-01T00:00:00Z", .snapshot_ms = 1704067200000 };

struct row {
	struct buf key, after, before;
	struct sd_change c;
};

static void make_change(struct row *r, enum sd_op op, int64_t id, const char *after,
			const char *before, unsigned char tag)
{
	memset(r, 0, sizeof(*r));
	enc_put_int(&r->key, id);
	if (after) {
		enc_put_int(&r->after, id);
		enc_put_str(&r->after, ENC_TEXT, after, strlen(after));
	}
	if (before) {
		enc_put_int(&r->before, id);
		enc_put_str(&r->before, ENC_TEXT, before, strlen(before));
	}
	r->c.op = op;
	r->c.key = (const unsigned char *)r->key.p;
	r->c.key_len = r->key.len;
	r->c.after = after ? (const unsigned char *)r->after.p : NULL;
	r->c.after_len = r->after.len;
	r->c.before = before ? (const unsigned char *)r->before.p : NULL;
	r->c.before_len = r->before.len;
	memset(r->c.id, tag, 16);
}

static void free_change(struct row *r)
{
	buf_release(&r->key);
	buf_release(&r->after);
	buf_release(&r->before);
}

static struct cfg_sink sink_conf(const char *brokers)
{
	struct cfg_sink s = { 0 };
	s.type = CFG_SINK_KAFKA;
	s.name = (char *)"kafka";
	s.brokers = (char *)brokers;
	s.topic_template = (char *)"{prefix}.{database}.{table}";
	s.topic_prefix = (char *)"unit";
	s.tombstones = true;
	s.transactional_id_prefix = (char *)"snapdiff";
	s.flush_timeout = 10;
	return s;
}

TEST(kafka_sink_messages_keys_headers_tombstones)
{
	struct mock m = { 0 };
	CHECK(mock_start(&m) == 0);
	rd_kafka_mock_topic_create(m.mc, "unit.w.t", 1, 1);
	struct cfg_sink conf = sink_conf(m.bootstraps);
	struct sderr e = { 0 };
	void *st = NULL;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	struct row r[3];
	make_change(&r[0], SD_OP_INSERT, 1, "a", NULL, 0x11);
	make_change(&r[1], SD_OP_UPDATE, 2, "b2", "b1", 0x22);
	make_change(&r[2], SD_OP_DELETE, 3, NULL, "c", 0x33);
	for (int i = 0; i < 3; i++)
		CHECK_INT(sink_kafka_ops.emit(st, &run, &r[i].c, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.commit(st, &run, &e), SD_OK);
	sink_kafka_ops.close(st);

	char got[8][512];
	CHECK_INT(consume_all(m.bootstraps, "unit.w.t", 4, got), 4);
	CHECK(strncmp(got[0], "{\"id\":1}|{\"id\":\"1111", 20) == 0);
	CHECK(strstr(got[0], "|insert|11111111111111111111111111111111") != NULL);
	CHECK(strstr(got[1], "\"before\":{\"id\":2,\"name\":\"b1\"}") != NULL);
	CHECK(strstr(got[1], "|update|2222") != NULL);
	CHECK(strncmp(got[2], "{\"id\":3}|{", 10) == 0);
	CHECK(strstr(got[2], "|delete|3333") != NULL);
	CHECK_STR(got[3], "{\"id\":3}|NULL|tombstone|33333333333333333333333333333333");
	for (int i = 0; i < 3; i++)
		free_change(&r[i]);
	mock_stop(&m);
}

TEST(kafka_sink_refused_produce_fails_commit)
{
	struct mock m = { 0 };
	CHECK(mock_start(&m) == 0);
	rd_kafka_mock_topic_create(m.mc, "unit.w.t", 1, 1);
	/* Non-retriable: the broker denies the topic to this producer. */
	rd_kafka_mock_push_request_errors(m.mc, 0 /* Produce */, 1,
					  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	struct cfg_sink conf = sink_conf(m.bootstraps);
	struct sderr e = { 0 };
	void *st = NULL;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	struct row r;
	make_change(&r, SD_OP_INSERT, 1, "a", NULL, 0x11);
	int rc = sink_kafka_ops.emit(st, &run, &r.c, &e);
	if (rc == SD_OK)
		rc = sink_kafka_ops.commit(st, &run, &e);
	else
		sink_kafka_ops.abort(st, &run);
	CHECK_INT(rc, SD_ERR_SINK);
	CHECK(strstr(e.msg, "not delivered") != NULL);
	CHECK(strstr(e.msg, "uthoriz") != NULL);
	/* the producer is rebuilt and the next run goes through */
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.emit(st, &run, &r.c, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.commit(st, &run, &e), SD_OK);
	sink_kafka_ops.close(st);
	free_change(&r);
	mock_stop(&m);
}

TEST(kafka_sink_broker_down_times_out)
{
	struct mock m = { 0 };
	CHECK(mock_start(&m) == 0);
	rd_kafka_mock_topic_create(m.mc, "unit.w.t", 1, 1);
	rd_kafka_mock_broker_set_down(m.mc, 1);
	struct cfg_sink conf = sink_conf(m.bootstraps);
	conf.flush_timeout = 1;
	struct sderr e = { 0 };
	void *st = NULL;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	struct row r;
	make_change(&r, SD_OP_INSERT, 1, "a", NULL, 0x11);
	CHECK_INT(sink_kafka_ops.emit(st, &run, &r.c, &e), SD_OK);
	time_t t0 = time(NULL);
	CHECK_INT(sink_kafka_ops.commit(st, &run, &e), SD_ERR_SINK);
	CHECK(time(NULL) - t0 <= 6);
	CHECK(strstr(e.msg, "not delivered") != NULL || strstr(e.msg, "not confirmed") != NULL);
	sink_kafka_ops.close(st);
	free_change(&r);
	mock_stop(&m);
}

TEST(kafka_sink_config_errors)
{
	struct sderr e = { 0 };
	void *st = NULL;
	struct cfg_kv props[1] = { { (char *)"no.such.property", (char *)"1" } };
	struct cfg_sink conf = sink_conf("127.0.0.1:1");
	conf.properties = props;
	conf.n_properties = 1;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strncmp(e.msg, "sink 'kafka' property 'no.such.property': ", 42) == 0);

	props[0] = (struct cfg_kv){ (char *)"compression.type", (char *)"brotli" };
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strncmp(e.msg, "sink 'kafka' property 'compression.type': ", 42) == 0);

	props[0] = (struct cfg_kv){ (char *)"enable.idempotence", (char *)"false" };
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strstr(e.msg, "idempotent") != NULL);

	/* acks=1 contradicts idempotence: librdkafka refuses, named as such */
	props[0] = (struct cfg_kv){ (char *)"acks", (char *)"1" };
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strstr(e.msg, "acks") != NULL);

	conf.n_properties = 0;
	conf.topic_template = (char *)"{prefix}.{wiki}";
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strstr(e.msg, "unknown placeholder '{wiki}'") != NULL);

	conf.topic_template = (char *)"{prefix}/{table}";
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_ERR_CONFIG);
	CHECK(strstr(e.msg, "not a valid Kafka topic name") != NULL);

	/* a good configuration opens without any broker reachable */
	conf.topic_template = (char *)"{prefix}.{database}.{table}";
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	sink_kafka_ops.close(st);
}

TEST(kafka_sink_transaction_commit_and_abort)
{
	struct mock m = { 0 };
	CHECK(mock_start(&m) == 0);
	rd_kafka_mock_topic_create(m.mc, "unit.w.t", 1, 1);
	struct cfg_sink conf = sink_conf(m.bootstraps);
	conf.transactional = true;
	struct sderr e = { 0 };
	void *st = NULL;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	struct row r;
	make_change(&r, SD_OP_INSERT, 1, "a", NULL, 0x11);
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.emit(st, &run, &r.c, &e), SD_OK);
	sink_kafka_ops.abort(st, &run);
	CHECK_INT(sink_kafka_ops.begin(st, &run, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.emit(st, &run, &r.c, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.commit(st, &run, &e), SD_OK);
	sink_kafka_ops.close(st);
	free_change(&r);
	mock_stop(&m);
}

TEST(kafka_sink_emit_doc_goes_to_its_stream)
{
	struct mock m = { 0 };
	CHECK(mock_start(&m) == 0);
	rd_kafka_mock_topic_create(m.mc, "unit.page_change.v1", 1, 1);
	struct cfg_sink conf = sink_conf(m.bootstraps);
	struct sderr e = { 0 };
	void *st = NULL;
	CHECK_INT(sink_kafka_ops.open(&st, &conf, NULL, &e), SD_OK);
	CHECK(sink_kafka_ops.emit_doc != NULL);
	struct sd_run_info drun = run;
	drun.run_id = "w.page_change.3";
	drun.tbl = "page_change";
	static const char key[] = "{\"wiki_id\":\"w\",\"page_id\":7}", value[] = "{\"meta\":{}}";
	struct sd_doc d = { .stream = "unit.page_change.v1",
			    .key = key, .key_len = sizeof(key) - 1,
			    .value = value, .value_len = sizeof(value) - 1 };
	memset(d.id, 0xab, 16);
	CHECK_INT(sink_kafka_ops.begin(st, &drun, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.emit_doc(st, &drun, &d, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.commit(st, &drun, &e), SD_OK);

	d.stream = "bad/stream";
	CHECK_INT(sink_kafka_ops.begin(st, &drun, &e), SD_OK);
	CHECK_INT(sink_kafka_ops.emit_doc(st, &drun, &d, &e), SD_ERR_CONFIG);
	sink_kafka_ops.abort(st, &drun);
	sink_kafka_ops.close(st);

	char got[2][512];
	CHECK_INT(consume_all(m.bootstraps, "unit.page_change.v1", 1, got), 1);
	CHECK_STR(got[0], "{\"wiki_id\":\"w\",\"page_id\":7}|{\"meta\":{}}|doc|"
			  "abababababababababababababababab");
	mock_stop(&m);
}
