#!/usr/bin/env python3
"""Independent-reader check of the SENSORIUM submission tables Sensorium for Swift writes natively.

    check-parquet.py [--self-check] FILE.parquet DUMP.json [FILE DUMP ...]

Each DUMP.json (written by the Swift test next to its parquet file) lists the rows the SDK was
given: {"rows": [{"mouse": str, "trial_index": int, "prediction_bits": [[uint32 bit patterns of
the float32 values, neurons x frames]], "neuron_ids": [uint32]}], "row_groups": int}.

For every pair the check
  1. reads FILE with pyarrow and compares every cell with the dump exactly (predictions as the
     float32 values widened to float64, as the reference kit's `.tolist()` does);
  2. reads FILE with pandas.read_parquet and compares every cell and the dtypes;
  3. builds the table the reference kit builds (sensorium/utility/submission.py: a pandas
     DataFrame of mouse, trial_indices, prediction = float32 array .tolist(), neuron_ids = uint32
     array), writes it with df.to_parquet(compression='brotli', engine='pyarrow', index=False) and
     requires the same Parquet schema, the same Arrow types and the same pandas dtypes as FILE;
  4. checks the compression codec (BROTLI) and the row-group count the dump states.
With --self-check it then perturbs each dump in several ways (a prediction value by one float32
ulp, a neuron id, a trial index, a mouse name, a dropped row) and fails unless every perturbed
comparison is detected as a mismatch. Exit status 0 only when everything holds.
"""
import copy
import json
import os
import sys
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ["mouse", "trial_indices", "prediction", "neuron_ids"]


class Mismatch(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


def dump_prediction(row):
    bits = np.asarray(row["prediction_bits"], dtype=np.uint32)
    return bits.view(np.float32)


def reference_frame(rows):
    """The DataFrame exactly as the reference kit's generate_submission builds it."""
    return pd.DataFrame(
        {
            "mouse": [r["mouse"] for r in rows],
            "trial_indices": [int(r["trial_index"]) for r in rows],
            "prediction": [dump_prediction(r).tolist() for r in rows],
            "neuron_ids": [np.asarray(r["neuron_ids"]).astype(np.uint32) for r in rows],
        }
    )


def same_values(a, b):
    """Exact equality, NaN never equal (the SDK refuses non-finite values)."""
    a = np.asarray(a)
    b = np.asarray(b)
    return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b))


def normalized_arrow_schema(schema):
    """The Arrow schema without metadata, large_string read as string (pyarrow's choice for
    pandas' str columns depends on the pandas version; the Parquet type is the same)."""
    fields = []
    for f in schema:
        t = pa.string() if f.type == pa.large_string() else f.type
        fields.append(pa.field(f.name, t, f.nullable))
    return pa.schema(fields)


def compare(path, dump):
    rows = dump["rows"]
    pf = pq.ParquetFile(path)
    md = pf.metadata
    expect(md.num_rows == len(rows), f"{path}: {md.num_rows} rows, dump has {len(rows)}")
    expect(md.num_row_groups == dump["row_groups"],
           f"{path}: {md.num_row_groups} row groups, expected {dump['row_groups']}")
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            codec = md.row_group(g).column(c).compression
            expect(codec == dump.get("codec", "BROTLI"), f"{path}: row group {g} column {c} codec {codec}")
    table = pq.read_table(path)
    expect(table.column_names == COLUMNS, f"{path}: columns {table.column_names}")
    if not rows:
        return

    # 1. pyarrow, cell by cell.
    data = table.to_pydict()
    for i, r in enumerate(rows):
        where = f"{path}: row {i} (mouse {r['mouse']!r}, trial {r['trial_index']})"
        expect(data["mouse"][i] == r["mouse"], f"{where}: mouse {data['mouse'][i]!r}")
        expect(data["trial_indices"][i] == r["trial_index"], f"{where}: trial_indices {data['trial_indices'][i]}")
        expected = dump_prediction(r).astype(np.float64)
        got = np.asarray(data["prediction"][i], dtype=np.float64)
        expect(got.shape == expected.shape, f"{where}: prediction shape {got.shape}, expected {expected.shape}")
        expect(np.array_equal(got.view(np.uint64), expected.view(np.uint64)),
               f"{where}: prediction differs at {np.argwhere(got.view(np.uint64) != expected.view(np.uint64))[:3].tolist()}")
        expect(data["neuron_ids"][i] == [int(x) for x in r["neuron_ids"]], f"{where}: neuron_ids differ")

    # 2. pandas.read_parquet, cell by cell.
    df = pd.read_parquet(path)
    expect(list(df.columns) == COLUMNS, f"{path}: pandas columns {list(df.columns)}")
    expect(isinstance(df.index, pd.RangeIndex) and len(df.index) == len(rows), f"{path}: pandas index {df.index}")
    for i, r in enumerate(rows):
        where = f"{path}: pandas row {i}"
        expect(df["mouse"].iloc[i] == r["mouse"], f"{where}: mouse")
        expect(int(df["trial_indices"].iloc[i]) == r["trial_index"], f"{where}: trial_indices")
        pred = df["prediction"].iloc[i]
        stacked = np.stack([np.asarray(p, dtype=np.float64) for p in pred])
        expect(same_values(stacked, dump_prediction(r).astype(np.float64)), f"{where}: prediction")
        ids = np.asarray(df["neuron_ids"].iloc[i])
        expect(ids.dtype == np.uint32, f"{where}: neuron_ids dtype {ids.dtype}")
        expect(same_values(ids, np.asarray(r["neuron_ids"], dtype=np.uint32)), f"{where}: neuron_ids")

    # 3. The reference kit's own file of the same rows: same schema and dtypes.
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = os.path.join(tmp, "reference.parquet.brotli")
        reference_frame(rows).to_parquet(ref_path, compression="brotli", engine="pyarrow", index=False)
        ref = pq.ParquetFile(ref_path)
        expect(pf.schema.equals(ref.schema),
               f"{path}: Parquet schema differs from pyarrow's\n--- ours\n{pf.schema}\n--- pyarrow\n{ref.schema}")
        ours_arrow = normalized_arrow_schema(table.schema)
        ref_arrow = normalized_arrow_schema(pq.read_table(ref_path).schema)
        expect(ours_arrow.equals(ref_arrow), f"{path}: Arrow schema {ours_arrow} vs pyarrow's {ref_arrow}")
        ref_df = pd.read_parquet(ref_path)
        expect(df.dtypes.equals(ref_df.dtypes), f"{path}: pandas dtypes\n{df.dtypes}\nvs the kit's\n{ref_df.dtypes}")
        for column in COLUMNS:
            for i in range(len(rows)):
                a, b = df[column].iloc[i], ref_df[column].iloc[i]
                if column in ("prediction",):
                    a = np.stack([np.asarray(x) for x in a])
                    b = np.stack([np.asarray(x) for x in b])
                expect(same_values(a, b), f"{path}: pandas {column} row {i} differs from the kit's file")


def perturbations(dump):
    rows = dump["rows"]
    if not rows:
        return
    d = copy.deepcopy(dump)
    bits = d["rows"][-1]["prediction_bits"]
    bits[-1][-1] = int(bits[-1][-1]) ^ 1  # one float32 ulp
    yield "prediction value by one ulp", d
    d = copy.deepcopy(dump)
    d["rows"][0]["neuron_ids"][0] = (int(d["rows"][0]["neuron_ids"][0]) + 1) % (1 << 32)
    yield "neuron id", d
    d = copy.deepcopy(dump)
    d["rows"][0]["trial_index"] += 1
    yield "trial index", d
    d = copy.deepcopy(dump)
    d["rows"][-1]["mouse"] += "x"
    yield "mouse name", d
    d = copy.deepcopy(dump)
    d["rows"].pop()
    yield "dropped row", d


def main(argv):
    self_check = "--self-check" in argv
    args = [a for a in argv if a != "--self-check"]
    if len(args) == 0 or len(args) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures = 0
    for path, dump_path in zip(args[0::2], args[1::2]):
        with open(dump_path) as f:
            dump = json.load(f)
        try:
            compare(path, dump)
            print(f"ok   {path}: {len(dump['rows'])} rows, {dump['row_groups']} row groups, every value equal")
        except Mismatch as e:
            failures += 1
            print(f"FAIL {e}", file=sys.stderr)
            continue
        if self_check:
            for name, perturbed in perturbations(dump):
                try:
                    compare(path, perturbed)
                except Mismatch:
                    print(f"ok   {path}: a perturbed dump ({name}) is detected")
                    continue
                failures += 1
                print(f"FAIL {path}: a perturbed dump ({name}) was not detected", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
