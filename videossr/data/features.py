"""The explicit ``datasets.Features`` of a VideoSSR row, shared by every Parquet shard we write.

Declaring the features instead of letting Arrow infer them matters for two reasons: every shard of a
dataset must have the same schema (a shard whose first prompt happens to have no ``None`` text would
otherwise infer a different type), and the ``Image`` feature must be declared for ``load_dataset`` to
hand back decoded frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pyarrow as pa

#: Column order of a row, as written by :func:`videossr.rows.sample_to_row`.
ROW_COLUMNS = (
    "id",
    "prompt",
    "videos",
    "fps",
    "answer",
    "task",
    "subtype",
    "params",
    "source",
    "seed",
    "generator_version",
)


def row_features() -> datasets.Features:
    """The ``datasets.Features`` of the row schema (see :mod:`videossr.rows`).

    Frames are ``List(List(Image()))`` (clips x frames), stored as encoded JPEG/PNG bytes.

    Example:
        >>> row_features()["videos"]
        List(List(Image(mode=None, decode=True)))
    """
    from datasets import Features, Image, List, Value

    return Features(
        {
            "id": Value("string"),
            "prompt": List(
                {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
            ),
            "videos": List(List(Image())),
            "fps": Value("float64"),
            "answer": Value("string"),
            "task": Value("string"),
            "subtype": Value("string"),
            "params": Value("string"),
            "source": Value("string"),
            "seed": Value("int64"),
            "generator_version": Value("string"),
        }
    )


def row_schema() -> pa.Schema:
    """The Arrow schema of the row features, with the ``huggingface`` metadata ``datasets`` reads back."""
    return row_features().arrow_schema


def rows_to_table(
    rows: list[dict], extra: dict[str, list] | None = None, schema: pa.Schema | None = None
) -> pa.Table:
    """An Arrow table with exactly the row schema from rows in storage form (frames as ``{bytes, path}``).

    ``extra`` columns (internal bookkeeping, e.g. the slot of each row in the build plan) are appended
    after the schema's columns; they never reach a published shard. Passing ``schema`` (from
    :func:`row_schema`) spares a worker process the import of ``datasets``.
    """
    import pyarrow as pa

    schema = schema if schema is not None else row_schema()
    table = pa.Table.from_pylist([{k: r[k] for k in ROW_COLUMNS} for r in rows], schema=schema)
    for name, values in (extra or {}).items():
        table = table.append_column(name, pa.array(values))
    return table
