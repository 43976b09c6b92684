"""Parquet writer comparison for bench/bench.py: pyarrow vs snapdiff's own writer.

  pqbench.py files WAREHOUSE TABLE     the mirror's data files (delete files excluded), one a line
  pqbench.py dump DIR FILE...          reads FILE... with pyarrow and writes the column dump
                                       bench/pqwrite.c reads (see its header); prints
                                       {"rows", "arrow_bytes"} (Arrow's in-memory size of the rows)
  pqbench.py write CODEC REPEAT FILE...
                                       times pyarrow.parquet.write_table of the same rows into
                                       memory, one thread, REPEAT times; prints {"seconds": [...],
                                       "bytes"}
"""
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

pa.set_cpu_count(1)
pa.set_io_thread_count(1)

# snapdiff's lake/parquet.c compresses at ZSTD_CLEVEL_DEFAULT (3); Arrow's own
# default level is 1, so the level is given explicitly: the same codec work.
ZSTD_LEVEL = 3


def data_files(warehouse, table):
    out = []
    for root, _, names in os.walk(warehouse):
        parts = root.split(os.sep)
        if "data" not in parts or table not in parts:
            continue
        for n in sorted(names):
            if not n.endswith(".parquet") or "-deletes" in n:
                continue
            p = os.path.join(root, n)
            names_ = set(pq.read_schema(p).names)
            if {"file_path", "pos"} <= names_:   # a position-delete file, whatever its name
                continue
            out.append(p)
    return out


def read(files):
    return pa.concat_tables([pq.ParquetFile(f).read(use_threads=False) for f in files]).combine_chunks()


def raw(arr, width):
    """The data buffer of a fixed-width array, width bytes a value (little-endian, as Arrow keeps it)."""
    return memoryview(arr.buffers()[1])[arr.offset * width:(arr.offset + len(arr)) * width]


def dump(outdir, files):
    """Column dump for bench/pqwrite, straight from Arrow's buffers (no numpy in the venv)."""
    import struct
    import pyarrow.compute as pc
    t = read(files)
    os.makedirs(outdir, exist_ok=True)
    schema = []
    for i, field in enumerate(t.schema):
        arr = t.column(i).combine_chunks()
        ty = field.type
        fid = int((field.metadata or {}).get(b"PARQUET:field_id", i + 1))
        prec = scale = 0
        with open(os.path.join(outdir, f"{i}.null"), "wb") as f:
            f.write(raw(pc.cast(pc.is_null(arr), pa.uint8()), 1))
        val = open(os.path.join(outdir, f"{i}.val"), "wb")
        if pa.types.is_integer(ty) and ty.bit_width <= 32 and not (ty.bit_width == 32 and pa.types.is_unsigned_integer(ty)):
            kind = "int32"
            val.write(raw(pc.cast(arr.fill_null(0), pa.int32()), 4))
        elif pa.types.is_integer(ty):
            kind = "int64"
            val.write(raw(pc.cast(arr.fill_null(0), pa.int64()), 8))
        elif pa.types.is_floating(ty):
            kind = "double"
            val.write(raw(pc.cast(arr.fill_null(0), pa.float64()), 8))
        elif pa.types.is_boolean(ty):
            kind = "bool"
            val.write(raw(pc.cast(arr.fill_null(False), pa.uint8()), 1))
        elif pa.types.is_decimal128(ty):
            kind, prec, scale = "decimal", ty.precision, ty.scale
            val.write(raw(arr, 16))
        elif pa.types.is_string(ty) or pa.types.is_binary(ty) or \
                pa.types.is_large_string(ty) or pa.types.is_large_binary(ty):
            kind = "string" if "string" in str(ty) else "binary"
            a = arr.cast(pa.binary())
            first = struct.unpack_from("<i", a.buffers()[1], a.offset * 4)[0]
            if first != 0:   # rebase: a fresh copy starts its offsets at 0
                a = pa.array(a.to_pylist(), pa.binary())
            n = len(a)
            offs = memoryview(a.buffers()[1])[a.offset * 4:(a.offset + n + 1) * 4]
            end = struct.unpack_from("<i", offs, n * 4)[0]
            with open(os.path.join(outdir, f"{i}.off"), "wb") as f:
                f.write(offs)
            if a.buffers()[2] is not None:
                val.write(memoryview(a.buffers()[2])[:end])
        else:
            sys.exit(f"pqbench: column {field.name}: type {ty} not handled")
        val.close()
        schema.append(f"{field.name} {fid} {kind} {int(field.nullable)} {prec} {scale}\n")
    with open(os.path.join(outdir, "schema.tsv"), "w") as f:
        f.writelines(schema)
    print(json.dumps({"rows": t.num_rows, "arrow_bytes": t.nbytes}))


def write(codec, repeat, files):
    import time
    t = read(files)
    secs = []
    size = 0
    for _ in range(repeat):
        sink = pa.BufferOutputStream()
        t0 = time.monotonic()
        pq.write_table(t, sink, compression=None if codec == "none" else codec,
                       compression_level=ZSTD_LEVEL if codec == "zstd" else None,
                       use_dictionary=True, write_statistics=True)
        secs.append(time.monotonic() - t0)
        size = sink.getvalue().size
    print(json.dumps({"seconds": secs, "bytes": size, "pyarrow": pa.__version__}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "files":
        print("\n".join(data_files(sys.argv[2], sys.argv[3])))
    elif cmd == "dump":
        dump(sys.argv[2], sys.argv[3:])
    elif cmd == "write":
        write(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)
