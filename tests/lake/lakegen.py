"""Builds the lakegen generator and recomputes the values it writes.

lakegen (tests/lake/gen/lakegen.c) writes row r of every column as a pure
function of r; value() below must stay in step with its put_value(). Values
are returned as the Python objects pyarrow's to_pylist() gives, so tables can
be compared directly.
"""
import datetime
import decimal
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KINDS = ["boolean", "int", "long", "float", "double", "string", "binary", "fixed3",
         "uuid", "dec9", "dec18", "dec38", "date", "time", "ts", "tstz",
         "i8", "u16", "u32", "u64"]
ICEBERG_KINDS = 16

EPOCH = datetime.datetime(1970, 1, 1)
UTC = datetime.timezone.utc


def build(out_dir):
    """Compiles lakegen (or takes $SNAPDIFF_LAKE_GEN); returns its path."""
    given = os.environ.get("SNAPDIFF_LAKE_GEN")
    if given:
        return given
    cc = os.environ.get("CC", "cc")
    try:
        libs = subprocess.run(["pkg-config", "--cflags", "--libs", "snappy", "libzstd", "zlib"],
                              check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        libs = ["-lsnappy", "-lzstd", "-lz"]
    san = [] if os.environ.get("SNAPDIFF_LAKE_NO_SAN") else [
        "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    exe = str(Path(out_dir) / "lakegen")
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-DSD_HAVE_ZLIB", "-O1", "-g", "-Wall", "-Wextra",
           "-Werror", *san, "-I.", "-Idiffer", "-Ilake", "tests/lake/gen/lakegen.c",
           "lake/parquet.c", "lake/thrift.c", "lake/avro.c", "differ/buf.c",
           "-o", exe, *libs, "-lm"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return exe


def run(gen, *args):
    """Runs lakegen; returns the JSON it prints."""
    res = subprocess.run([gen, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def column_names(nkinds):
    return [f"{KINDS[i // 2]}_{'opt' if i % 2 else 'req'}" for i in range(2 * nkinds)]


def is_null(col_index, r):
    return col_index % 2 == 1 and r % 5 == 3


def _c_mod(a, b):
    """C's % (truncating) for the occasional negative operand."""
    q = abs(a) // abs(b)
    return a - b * (q if (a >= 0) == (b > 0) else -q)


def value(kind, r, n):
    if kind == "boolean":
        return r % 3 == 0
    if kind == "int":
        return (r * 7919) % 2001 - 1000
    if kind == "long":
        return (r - n // 2) * 1000000007
    if kind == "float":
        return (r % 100) * 0.5 - 20.0
    if kind == "double":
        return -0.0 if r % 11 == 5 else r * 0.25 - 3.0
    if kind == "string":
        return f"ü{r % 300}" if r % 7 == 0 else f"s{r % 300:05d}"
    if kind == "binary":
        return bytes([r % 256, (r * 3) % 256, 0x80])[: r % 4]
    if kind == "fixed3":
        return bytes([r % 256, (r >> 8) % 256, 0xFF])
    if kind == "uuid":
        return uuid.UUID(bytes=bytes(((r * (i + 1) * 37) >> (i % 3)) & 0xFF for i in range(16)))
    if kind == "dec9":
        return decimal.Decimal((r * 12345) % 1000000 - 500000).scaleb(-2)
    if kind == "dec18":
        return decimal.Decimal((r - n // 2) * 123456789).scaleb(-4)
    if kind == "dec38":
        text = (f"{'-' if r % 2 else ''}{r}{(r * 98765432109) % 10000000000000:013d}"
                f".{(r * 7777777) % 10000000000:010d}")
        return decimal.Decimal(text).quantize(decimal.Decimal(1).scaleb(-10))
    if kind == "date":
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=19000 + r % 1000)
    if kind == "time":
        us = (r * 1000003) % 86400000000
        return (datetime.datetime.min + datetime.timedelta(microseconds=us)).time()
    if kind == "ts":
        return EPOCH + datetime.timedelta(microseconds=1700000000000000 + r * 1000001)
    if kind == "tstz":
        return (EPOCH + datetime.timedelta(microseconds=1700000000000007 + r * 1000001)
                ).replace(tzinfo=UTC)
    if kind == "i8":
        return r % 256 - 128
    if kind == "u16":
        return r % 65536
    if kind == "u32":
        return 4000000000 + r
    if kind == "u64":
        return 2**63 + r
    raise ValueError(kind)


def expected_columns(n, nkinds):
    """{column name: [values or None]} for rows 0..n-1."""
    out = {}
    for i, name in enumerate(column_names(nkinds)):
        kind = KINDS[i // 2]
        out[name] = [None if is_null(i, r) else value(kind, r, n) for r in range(n)]
    return out


def decode_bound(kind, raw):
    """Iceberg single-value serialization -> the Python value of value()."""
    import struct
    if kind == "boolean":
        return raw != b"\x00"
    if kind in ("int", "i8", "u16", "date"):
        v = struct.unpack("<i", raw)[0]
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=v) if kind == "date" else v
    if kind == "u32":
        return struct.unpack("<I", raw)[0]
    if kind == "u64":
        return struct.unpack("<Q", raw)[0]
    if kind in ("long", "time", "ts", "tstz"):
        v = struct.unpack("<q", raw)[0]
        if kind == "time":
            return (datetime.datetime.min + datetime.timedelta(microseconds=v)).time()
        if kind == "ts":
            return EPOCH + datetime.timedelta(microseconds=v)
        if kind == "tstz":
            return (EPOCH + datetime.timedelta(microseconds=v)).replace(tzinfo=UTC)
        return v
    if kind == "float":
        return struct.unpack("<f", raw)[0]
    if kind == "double":
        return struct.unpack("<d", raw)[0]
    if kind == "string":
        return raw.decode("utf-8")
    if kind in ("binary", "fixed3"):
        return raw
    if kind == "uuid":
        return uuid.UUID(bytes=raw)
    if kind.startswith("dec"):
        scale = {"dec9": 2, "dec18": 4, "dec38": 10}[kind]
        return decimal.Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-scale)
    raise ValueError(kind)


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def cc_available():
    return bool(os.environ.get("SNAPDIFF_LAKE_GEN")) or shutil.which(os.environ.get("CC", "cc"))
