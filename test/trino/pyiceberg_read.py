"""What pyiceberg reads of an Iceberg table, from its metadata file alone, as JSON on stdout.

Usage: python pyiceberg_read.py <metadata file URI or path>

Prints {"hours": {...}, "columns": [...], "types": [...], "rows": [...], "snapshots": [...], "planned": {...}}: the
rows of each hour of event time, scanned with a filter on the event time (which pyiceberg prunes
files by, through their partition values); the rows of a full scan of the current snapshot, ordered by (kafka_partition, kafka_offset), timestamps as epoch
milliseconds (a fraction for any microseconds), decimals as strings, dates as ISO dates; and every
snapshot with its parent, sequence number, time, operation, summary, and what a scan of it holds:
its rows, its (kafka_partition, kafka_offset) pairs held more than once, and the highest offset it
holds per partition; and the data files pyiceberg plans to read for a filter on a column that is no
partition, which only the files' column bounds in the manifests can narrow: all files, then the files
for `kafka_offset = n` for a sample of offsets, and for `device_id = d` for each device and one
that does not exist.
"""

import datetime
import decimal
import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, And, EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.table import StaticTable

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        delta = moment - EPOCH
        return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) / 1000
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def kind(arrow_type):
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "varchar"
    if pa.types.is_decimal(arrow_type):
        return f"decimal(scale {arrow_type.scale})"
    return str(arrow_type)


def planned(table, scan):
    def files(condition):
        return sorted(task.file.file_path for task in table.scan(row_filter=condition).plan_files())

    highest = pc.max(scan["kafka_offset"]).as_py()
    devices = sorted(set(scan["device_id"].to_pylist())) + ["no-such-device"]
    return {
        "all": files(AlwaysTrue()),
        "kafka_offset": {str(offset): files(EqualTo("kafka_offset", offset)) for offset in range(0, highest + 1, max(1, highest // 25))},
        "device_id": {device: files(EqualTo("device_id", device)) for device in devices},
    }


def main(location):
    table = StaticTable.from_metadata(location)
    scan = table.scan().to_arrow().sort_by([("kafka_partition", "ascending"), ("kafka_offset", "ascending")])
    snapshots = []
    for snapshot in table.snapshots():
        held = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=("kafka_partition", "kafka_offset")).to_arrow()
        pairs = held.group_by(["kafka_partition", "kafka_offset"]).aggregate([("kafka_offset", "count")])
        highest = held.group_by("kafka_partition").aggregate([("kafka_offset", "max")])
        snapshots.append({
            "id": str(snapshot.snapshot_id),
            "parent": None if snapshot.parent_snapshot_id is None else str(snapshot.parent_snapshot_id),
            "sequence_number": snapshot.sequence_number,
            "timestamp_ms": snapshot.timestamp_ms,
            "operation": snapshot.summary.operation.value,
            "summary": dict(snapshot.summary.additional_properties),
            "rows": held.num_rows,
            "duplicates": pc.sum(pc.greater(pairs["kafka_offset_count"], 1)).as_py() or 0,
            "highest": {str(p): o for p, o in zip(highest["kafka_partition"].to_pylist(), highest["kafka_offset_max"].to_pylist())},
        })
    # The rows of each hour of event time, each hour scanned with a filter on the event time alone:
    # pyiceberg keeps only the files whose partition (the event time's hour) can match.
    hours = {}
    for hour in sorted({micros // 3_600_000_000 for micros in pc.cast(scan["event_time"], pa.int64()).to_pylist()}):
        start = EPOCH + datetime.timedelta(hours=hour)
        condition = And(GreaterThanOrEqual("event_time", start.isoformat()), LessThan("event_time", (start + datetime.timedelta(hours=1)).isoformat()))
        hours[str(hour)] = table.scan(row_filter=condition, selected_fields=("kafka_offset",)).to_arrow().num_rows
    json.dump({
        "planned": planned(table, scan),
        "hours": hours,
        "columns": scan.column_names,
        "types": [kind(field.type) for field in scan.schema],
        "rows": [plain(list(row.values())) for row in scan.to_pylist()],
        "snapshots": snapshots,
    }, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
