"""Fixtures for the Kafka sink's integration tests: a real Apache Kafka broker
(tests/lib/kafka.sh) shared by the session, and a kcat-based consumer.

The broker is started once per session on free 127.0.0.1 ports; tests keep
apart by using their own topic prefix (``kafka.prefix(request)``). A broker that
cannot start fails the tests that need it: it is never a reason to skip.

Import the fixtures into a test module with ``from kafkafix import *``
(pytest collects fixtures from the module namespace).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "tests" / "lib" / "kafka.sh"

__all__ = ["Broker", "Message", "KafkaDB", "kafka", "kafka_own", "kafka_own_session", "kdb",
           "dead_broker", "kcat_consume"]


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: "str | None"
    value: "str | None"
    headers: dict = field(default_factory=dict)

    @property
    def json(self):
        """The value parsed as JSON (None for a tombstone)."""
        return None if self.value is None else json.loads(self.value)

    @property
    def json_key(self):
        return None if self.key is None else json.loads(self.key)

    @property
    def event_id(self):
        return self.headers.get("snapdiff-event-id")

    @property
    def op(self):
        return self.headers.get("snapdiff-op")


def kcat_consume(bootstrap, topic, *, read_committed=False, timeout=60, limit=None):
    """Every message of topic (all partitions, from the beginning, up to the
    current end), in partition then offset order; at most `limit` when given.
    A topic that does not exist yields []. read_committed hides aborted and
    open transactions."""
    cmd = ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-Z", "-q",
           "-X", "topic.metadata.refresh.interval.ms=1000"]
    if limit:
        cmd += ["-c", str(limit)]
    # librdkafka's consumers default to read_committed: say it either way
    cmd += ["-X", "isolation.level=" + ("read_committed" if read_committed else "read_uncommitted")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        if "Unknown topic or partition" in p.stderr:
            return []
        raise AssertionError(f"kcat failed ({p.returncode}): {p.stderr.strip()}")
    msgs = []
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        h = d.get("headers") or []
        msgs.append(Message(topic=d["topic"], partition=d["partition"], offset=d["offset"],
                            key=d.get("key"), value=d.get("payload"),
                            headers={h[i]: h[i + 1] for i in range(0, len(h), 2)}))
    msgs.sort(key=lambda m: (m.partition, m.offset))
    return msgs


class Broker:
    """One single-node Kafka (KRaft) in a directory; see tests/lib/kafka.sh."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.bootstrap = None
        self.start_seconds = None

    def start(self):
        t0 = time.monotonic()
        p = subprocess.run([str(KAFKA_SH), "start", str(self.dir)], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"Kafka broker did not start:\n{p.stderr[-4000:]}")
        self.bootstrap = p.stdout.strip().splitlines()[-1]
        self.start_seconds = time.monotonic() - t0
        return self.bootstrap

    def stop(self):
        subprocess.run([str(KAFKA_SH), "stop", str(self.dir)], capture_output=True, text=True,
                       timeout=120)

    def running(self):
        pidf = self.dir / "pid"
        if not pidf.exists():
            return False
        try:
            os.kill(int(pidf.read_text().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def consume(self, topic, **kw):
        return kcat_consume(self.bootstrap, topic, **kw)

    def wait_for(self, topic, n, *, read_committed=False, timeout=30):
        """Consumes until at least n messages are there (or timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.consume(topic, read_committed=read_committed)
            if len(msgs) >= n or time.monotonic() > deadline:
                return msgs
            time.sleep(0.5)

    def topics(self):
        p = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-J"], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        return sorted(t["topic"] for t in json.loads(p.stdout)["topics"])

    @staticmethod
    def prefix(request):
        """A topic prefix unique to the calling test."""
        return "t_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:80]

    def sink(self, request, **over):
        """A kafka sink configuration (dict) for this broker, with a topic
        prefix unique to the test and a short flush timeout."""
        s = {"type": "kafka", "brokers": self.bootstrap, "topic_prefix": self.prefix(request),
             "flush_timeout": 20}
        s.update(over)
        return s

    def log_tail(self, n=40):
        try:
            return "\n".join((self.dir / "logs" / "server.log").read_text().splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """The session's Kafka broker. Its start time is printed in the summary."""
    for tool in ("kcat", "java", "mvn"):
        if not shutil.which(tool):
            raise AssertionError(f"{tool} is not installed (make deps installs it)")
    b = Broker(tmp_path_factory.mktemp("kafka"))
    b.start()
    print(f"\nkafka: broker {b.bootstrap} up in {b.start_seconds:.1f}s")
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def kafka_own_session(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("kafka-own"))
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def kafka_own(kafka_own_session):
    """A second broker that tests may stop and start (fault tests), so the
    shared one stays up for everyone else. Running when the test starts."""
    b = kafka_own_session
    if not b.running():
        b.start()
    return b


@pytest.fixture
def dead_broker():
    """A 127.0.0.1 address where nothing listens (bound once, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"127.0.0.1:{port}"


class KafkaDB:
    """The MariaDB side of the Kafka tests, over conftest.py's session
    ``mariadb`` server (an sdtest.MariaDB): one empty database per test and a
    couple of one-line helpers."""

    def __init__(self, server):
        self.server = server
        self.source = server.source()

    def fresh_db(self, request):
        """A new, empty database named after the calling test."""
        name = ("k_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name))[:60]
        self.server.create_db(name, fixture=None)
        return name

    def exec(self, db, *statements):
        for st in statements:
            self.server.sql(st, db=db)

    def scalar(self, db, query):
        rows = self.server.sql(query, db=db)
        return None if not rows else str(rows[0][0])


@pytest.fixture
def kdb(mariadb):
    return KafkaDB(mariadb)
