"""Builds icegen (tests/lake/gen/icegen.c) and knows the history it writes.

icegen drives lake/iceberg.c through a fixed sequence of commits; expected()
below recomputes the rows every snapshot must show and must stay in step
with write_rows() in icegen.c.
"""
import datetime
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)

NS, TABLE = "lake", "page"
COLUMNS = ["_db", "page_id", "title", "len", "touched"]   # schema 0
COLUMNS_EVOLVED = COLUMNS + ["ns"]                        # schema 1 (from s5 on)


def build(out_dir):
    """Compiles icegen with the lake sources (or takes $SNAPDIFF_ICE_GEN); returns its path."""
    given = os.environ.get("SNAPDIFF_ICE_GEN")
    if given:
        return given
    cc = os.environ.get("CC", "cc")
    pkgs = ["snappy", "libzstd", "zlib", "jansson", "sqlite3", "libmariadb"]
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *pkgs], check=True,
                           capture_output=True, text=True).stdout.split()
    san = [] if os.environ.get("SNAPDIFF_LAKE_NO_SAN") else [
        "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    exe = str(Path(out_dir) / "icegen")
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-DSD_HAVE_ZLIB", "-O1", "-g", "-Wall", "-Wextra",
           "-Werror", *san, "-I.", "-Idiffer", "tests/lake/gen/icegen.c", "lake/iceberg.c",
           "lake/catalog.c", "lake/fileio.c", "lake/parquet.c", "lake/thrift.c", "lake/avro.c",
           "differ/buf.c", "differ/error.c", "-o", exe, *flags, "-lm"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return exe


def run(gen, *args):
    res = subprocess.run([gen, *map(str, args)], capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"icegen {' '.join(map(str, args))} failed:\n{res.stderr}")
    return json.loads(res.stdout)


def row(db, page_id, variant=False, evolved=False, with_ns=False):
    title = f"changed-{db}-{page_id}" if variant and page_id == 3 else f"{db}-title-{page_id}"
    r = {"_db": db, "page_id": page_id, "title": title,
         "len": None if page_id % 4 == 0 else page_id * 10,
         "touched": EPOCH + datetime.timedelta(microseconds=1700000000000000 + page_id * 1000000)}
    if evolved:
        r["ns"] = page_id % 3 if with_ns else None
    return r


def expected(label):
    """Rows (sorted by _db, page_id) the table shows at snapshot label s1..s6."""
    n = int(label[1:])
    ev = n >= 5
    rows = []
    rows += [row("enwiki", i, variant=n >= 3, evolved=ev) for i in range(1, 6)]
    if n < 4:
        rows += [row("dewiki", i, evolved=ev) for i in range(1, 4)]
    if n >= 2:
        rows += [row("enwiki", i, evolved=ev) for i in range(6, 9) if not (n >= 6 and i == 7)]
    if n >= 5:
        rows += [row("frwiki", i, evolved=True, with_ns=True) for i in range(1, 3)]
    return sorted(rows, key=lambda r: (r["_db"], r["page_id"]))


# Expected summary counters per snapshot: (operation, added-data-files, deleted-data-files,
# added-records, deleted-records, total-records, total-data-files, total-delete-files)
SUMMARIES = {
    "s1": ("append", 2, 0, 8, 0, 8, 2, 0),
    "s2": ("append", 1, 0, 3, 0, 11, 3, 0),
    "s3": ("overwrite", 1, 1, 5, 5, 11, 3, 0),
    "s4": ("delete", 0, 1, 0, 3, 8, 2, 0),
    "s5": ("append", 1, 0, 2, 0, 10, 3, 0),
    "s6": ("delete", 0, 0, 0, 0, 10, 3, 1),
}
