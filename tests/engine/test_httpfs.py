"""Direct reads (DuckDB httpfs) and boto3 reads build identical tables from the same bucket."""

from __future__ import annotations

from engine.test_cache import assert_same_tables, fixture_files, snapshot

from perstack_logq.engine.database import Database
from perstack_logq.engine.httpfs import DirectReader
from perstack_logq.storage.base import ReadFailure
from perstack_logq.storage.s3 import S3Storage


def test_direct_reads_give_the_same_tables_as_boto3(s3_storage: S3Storage) -> None:
    through_boto3 = Database(s3_storage)
    direct = Database(s3_storage, direct_reads=True)
    try:
        assert through_boto3.sync().read == direct.sync().read == len(fixture_files())
        assert_same_tables(snapshot(direct), snapshot(through_boto3))
    finally:
        through_boto3.close()
        direct.close()


def test_direct_reader_yields_the_bodies_and_reports_a_missing_key(s3_storage: S3Storage) -> None:
    files = fixture_files()
    keys = sorted(files)[:10]
    missing = "jobs/nosuchjob/job.json"
    reader = DirectReader(s3_storage, chunk=4)
    try:
        bodies = dict(reader.read_objects([*keys, missing]))
    finally:
        reader.close()
    assert bodies.keys() == {*keys, missing}
    assert {key: bodies[key] for key in keys} == {key: files[key] for key in keys}
    failure = bodies[missing]
    assert isinstance(failure, ReadFailure) and failure.reason == "not found"


def test_direct_reader_refuses_bodies_over_max_bytes_as_the_clients_do(
    s3_storage: S3Storage,
) -> None:
    files = fixture_files()
    limit = sorted(len(body) for body in files.values())[len(files) // 2]
    reader = DirectReader(s3_storage, chunk=4)
    try:
        bodies = dict(reader.read_objects(sorted(files), max_bytes=limit))
        by_boto3 = dict(s3_storage.read_objects(sorted(files), max_bytes=limit))
    finally:
        reader.close()
    assert bodies == by_boto3
    refused = {key for key, body in bodies.items() if isinstance(body, ReadFailure)}
    assert refused == {key for key, body in files.items() if len(body) > limit}
