"""The seeded store generator: determinism, layout, honesty of its report, planted secrets,
and likeness to the store Perstack's runtime really writes."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import FIXTURE_STORE
from support.moto_server import client, create_bucket

from perstack_logq.api import connect
from perstack_logq.errors import UsageError
from perstack_logq.storage import layout
from perstack_logq.storage.layout import KeyKind
from perstack_logq.synth import (
    KNOWN_EVENT_TYPES,
    PLANTED_SECRET_MARKER,
    SCENARIOS,
    BucketWriter,
    DirectoryWriter,
    GenerationReport,
    generate_store,
    job_status_from_checkpoint,
    main,
    planted_secrets,
)

SEED = 7
JOBS = 14  # the first 10 jobs of a store cover every scenario once
ENDING_EVENTS = ("completeRun", "stopRunByError", "stopRunByExceededMaxSteps")
STEP_ENDING_EVENTS = (
    "continueToNextStep",
    "completeRun",
    "stopRunByDelegate",
    "stopRunByInteractiveTool",
    "stopRunByExceededMaxSteps",
    "stopRunByError",
)


class MemoryWriter:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def write(self, key: str, body: bytes) -> None:
        self.files[key] = body


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def digest(files: dict[str, bytes]) -> str:
    hasher = hashlib.sha256()
    for key in sorted(files):
        hasher.update(key.encode() + b"\0" + files[key] + b"\0")
    return hasher.hexdigest()


def kind(key: str) -> KeyKind:
    parsed = layout.parse_key(key)
    assert parsed is not None, key
    return parsed.kind


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    root = tmp_path_factory.mktemp("synth") / "perstack"
    return root, generate_store(DirectoryWriter(root), jobs=JOBS, seed=SEED)


@pytest.fixture(scope="module")
def files(store: tuple[Path, GenerationReport]) -> dict[str, bytes]:
    return read_tree(store[0])


@pytest.fixture(scope="module")
def report(store: tuple[Path, GenerationReport]) -> GenerationReport:
    return store[1]


@pytest.fixture(scope="module")
def full() -> tuple[dict[str, bytes], GenerationReport]:
    """Every job with job.json, every run with run-setting.json."""
    writer = MemoryWriter()
    report = generate_store(
        writer, jobs=JOBS, seed=SEED + 1, with_job_files=1.0, with_run_settings=1.0
    )
    return writer.files, report


def records(files: dict[str, bytes], wanted: KeyKind) -> dict[str, Any]:
    return {key: json.loads(body) for key, body in files.items() if kind(key) is wanted}


def facts_of(report: GenerationReport, scenario: str) -> list[Any]:
    return [facts for facts in report.job_facts.values() if facts.scenario == scenario]


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes(tmp_path: Path, files: dict[str, bytes]) -> None:
    generate_store(DirectoryWriter(tmp_path), jobs=JOBS, seed=SEED)
    assert digest(read_tree(tmp_path)) == digest(files)


def test_other_seed_other_store(files: dict[str, bytes]) -> None:
    writer = MemoryWriter()
    generate_store(writer, jobs=JOBS, seed=SEED + 100)
    assert digest(writer.files) != digest(files)
    assert not set(writer.files) & set(files)  # not even one id in common


def test_directory_and_memory_writers_get_the_same_records(files: dict[str, bytes]) -> None:
    writer = MemoryWriter()
    generate_store(writer, jobs=JOBS, seed=SEED)
    assert writer.files == files


# ---------------------------------------------------------------- layout


def test_every_key_has_a_known_kind(files: dict[str, bytes]) -> None:
    assert {kind(key) for key in files} <= {
        KeyKind.JOB,
        KeyKind.CHECKPOINT,
        KeyKind.RUN_SETTING,
        KeyKind.EVENT,
    }


def test_event_file_names_match_their_bodies(files: dict[str, bytes]) -> None:
    for key, body in files.items():
        parsed = layout.parse_key(key)
        assert parsed is not None
        if parsed.kind is not KeyKind.EVENT:
            continue
        event = json.loads(body)
        assert parsed.event is not None
        assert (event["timestamp"], event["stepNumber"], event["type"]) == (
            parsed.event.timestamp,
            parsed.event.step_number,
            parsed.event.type,
        ), key
        assert (event["jobId"], event["runId"]) == (parsed.job_id, parsed.run_id), key
        assert list(event)[:7] == [
            "type",
            "id",
            "expertKey",
            "timestamp",
            "jobId",
            "runId",
            "stepNumber",
        ]


def test_records_embed_the_right_ids(files: dict[str, bytes]) -> None:
    for key, checkpoint in records(files, KeyKind.CHECKPOINT).items():
        parsed = layout.parse_key(key)
        assert parsed is not None
        assert checkpoint["id"] == parsed.checkpoint_id
        assert checkpoint["jobId"] == parsed.job_id
    for key, job in records(files, KeyKind.JOB).items():
        assert job["id"] == key.split("/")[1]


def test_ids_look_like_cuid2(files: dict[str, bytes]) -> None:
    for key in files:
        parsed = layout.parse_key(key)
        assert parsed is not None
        for name in (parsed.job_id, parsed.run_id, parsed.checkpoint_id):
            if name is not None:
                assert len(name) == 24 and name.isalnum() and name.islower(), name
                assert name[0].isalpha()


def test_job_json_is_pretty_and_everything_else_compact(full: Any) -> None:
    files, _ = full
    assert any(kind(key) is KeyKind.JOB for key in files)
    for key, body in files.items():
        assert not body.endswith(b"\n"), key
        value = json.loads(body)
        if kind(key) is KeyKind.JOB:
            assert body == json.dumps(value, indent=2, ensure_ascii=False).encode()
        else:
            assert body == orjson.dumps(value), key


def test_optional_files_can_be_left_out(full: Any) -> None:
    writer = MemoryWriter()
    report = generate_store(writer, jobs=JOBS, seed=SEED + 1, with_job_files=0, with_run_settings=0)
    kinds = Counter(kind(key) for key in writer.files)
    assert kinds[KeyKind.JOB] == kinds[KeyKind.RUN_SETTING] == 0
    assert report.job_files == report.run_settings == 0
    assert kinds[KeyKind.EVENT] == report.events > 0
    assert not report.planted_secrets
    # Only the optional files differ: a reader can be compared with and without them.
    with_all = {
        key: body
        for key, body in full[0].items()
        if kind(key) in (KeyKind.EVENT, KeyKind.CHECKPOINT)
    }
    assert writer.files == with_all


def test_file_times_follow_record_times(store: tuple[Path, GenerationReport]) -> None:
    root, report = store
    for key, kind_ in ((key, kind(key)) for key in read_tree(root)):
        if kind_ is KeyKind.EVENT:
            event = json.loads((root / key).read_bytes())
            assert os.stat(root / key).st_mtime == pytest.approx(event["timestamp"] / 1000)
    for facts in report.job_facts.values():
        job_dir = root / layout.job_prefix(facts.job_id)
        assert os.stat(job_dir).st_mtime == pytest.approx(facts.first_event_at / 1000)


def test_directory_writer_refuses_an_existing_store(
    store: tuple[Path, GenerationReport], files: dict[str, bytes]
) -> None:
    with pytest.raises(UsageError, match="already holds a store"):
        DirectoryWriter(store[0])
    DirectoryWriter(store[0], overwrite=True)  # allowed when asked for, and deletes nothing
    assert read_tree(store[0]) == files


def test_bucket_writer_writes_the_same_store_under_a_prefix(moto_endpoint: str) -> None:
    create_bucket(moto_endpoint, "synth")
    s3 = client(moto_endpoint)
    generate_store(BucketWriter(s3, "synth", "perstack"), jobs=3, seed=SEED)
    expected = MemoryWriter()
    generate_store(expected, jobs=3, seed=SEED)
    listed = s3.list_objects_v2(Bucket="synth")["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(
        "perstack/" + key for key in expected.files
    )
    key = next(iter(expected.files))
    body = s3.get_object(Bucket="synth", Key="perstack/" + key)["Body"].read()
    assert body == expected.files[key]


def test_importable_without_boto3() -> None:
    code = "import sys; sys.modules['boto3'] = None; import perstack_logq.synth"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- the report


def test_report_counts_equal_the_files(files: dict[str, bytes], report: GenerationReport) -> None:
    kinds = Counter(kind(key) for key in files)
    run_dirs = {key.rsplit("/", 1)[0] for key in files if "/runs/" in key}
    events_by_type = Counter(
        key.rsplit("/", 1)[1][len("event-") : -len(".json")].split("-", 2)[2]
        for key in files
        if kind(key) is KeyKind.EVENT
    )
    assert report.jobs == len({key.split("/")[1] for key in files}) == JOBS
    assert report.runs == len(run_dirs)
    assert report.checkpoints == kinds[KeyKind.CHECKPOINT]
    assert report.events == kinds[KeyKind.EVENT]
    assert report.job_files == kinds[KeyKind.JOB]
    assert report.run_settings == kinds[KeyKind.RUN_SETTING]
    assert report.events_by_type == dict(events_by_type)
    assert report.files == len(files)
    assert report.bytes == sum(map(len, files.values()))
    assert sorted(report.job_ids) == sorted({key.split("/")[1] for key in files})
    assert sum(report.scenarios.values()) == JOBS


def test_report_facts_per_job(files: dict[str, bytes], report: GenerationReport) -> None:
    checkpoints = records(files, KeyKind.CHECKPOINT)
    jobs = records(files, KeyKind.JOB)
    for job_id, facts in report.job_facts.items():
        prefix = layout.job_prefix(job_id)
        mine = {key: body for key, body in files.items() if key.startswith(prefix)}
        cps = [cp for key, cp in checkpoints.items() if key.startswith(prefix)]
        last = max(cps, key=lambda cp: cp["stepNumber"])
        assert facts.files == len(mine)
        assert facts.events == sum(kind(key) is KeyKind.EVENT for key in mine)
        assert facts.checkpoints == len(cps)
        assert facts.total_steps == last["stepNumber"]
        assert facts.total_tokens == last["usage"]["totalTokens"]
        assert facts.last_checkpoint_status == last["status"]
        assert facts.status == job_status_from_checkpoint(last["status"])
        assert set(facts.run_ids) == {key.split("/")[3] for key in mine if "/runs/" in key}
        assert set(facts.checkpoint_run_ids) == {cp["runId"] for cp in cps}
        job = jobs.get(layout.job_key(job_id))
        assert facts.has_job_file == (job is not None)
        if job is not None:
            assert (job["status"], job["startedAt"]) == (facts.status, facts.started_at)
            assert job["totalSteps"] == facts.total_steps
            assert job["usage"] == last["usage"]
            assert job.get("finishedAt") == facts.finished_at
        else:
            assert facts.started_at == facts.first_event_at
            running = facts.status == "running"
            assert facts.finished_at == (None if running else facts.last_event_at)


def test_jobs_start_in_index_order_over_a_month_with_overlaps() -> None:
    writer = MemoryWriter()
    report = generate_store(writer, jobs=60, seed=SEED, start_ms=1_800_000_000_000)
    facts = [report.job_facts[job_id] for job_id in report.job_ids]
    starts = [f.first_event_at for f in facts]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert starts[0] >= 1_800_000_000_000
    assert 25 * 86_400_000 < starts[-1] - starts[0] < 31 * 86_400_000
    overlaps = sum(a.last_event_at > b.first_event_at for a, b in itertools.pairwise(facts))
    assert overlaps >= 2


# ---------------------------------------------------------------- secrets


def test_planted_secrets_live_only_in_run_settings(full: Any) -> None:
    files, report = full
    secrets = planted_secrets(report)
    assert len(secrets) >= 10
    assert all(PLANTED_SECRET_MARKER in secret for secret in secrets)
    settings_text = b"".join(
        body for key, body in files.items() if kind(key) is KeyKind.RUN_SETTING
    ).decode()
    for secret in secrets:
        assert secret in settings_text
    for key, body in files.items():
        if kind(key) is not KeyKind.RUN_SETTING:
            assert PLANTED_SECRET_MARKER.encode() not in body, key


def test_secrets_sit_where_real_ones_sit(full: Any) -> None:
    files, report = full
    secrets = planted_secrets(report)
    settings = list(records(files, KeyKind.RUN_SETTING).values())
    places: Counter[str] = Counter()
    for setting in settings:
        provider = setting["providerConfig"]
        assert provider["apiKey"] in secrets
        assert provider["apiKey"] in setting["env"].values()  # the key the user exported
        places["env"] += sum(value in secrets for value in setting["env"].values()) >= 3
        places["headers"] += any(v in secrets for v in provider.get("headers", {}).values())
        places["perstackApiKey"] += setting.get("perstackApiKey") in secrets
        if "proxyUrl" in setting:
            password = setting["proxyUrl"].split("://")[1].split("@")[0].split(":")[1]
            places["proxyUrl"] += password in secrets
    assert places["env"] == len(settings)
    assert min(places["headers"], places["perstackApiKey"], places["proxyUrl"]) > 0


# ---------------------------------------------------------------- like the real store


def test_median_event_size_is_a_few_kilobytes(files: dict[str, bytes]) -> None:
    sizes = [len(body) for key, body in files.items() if kind(key) is KeyKind.EVENT]
    assert 1_000 <= statistics.median(sizes) <= 6_000
    assert min(sizes) >= 150


def test_scale_grows_texts_and_nothing_else() -> None:
    small, big = MemoryWriter(), MemoryWriter()
    small_report = generate_store(small, jobs=6, seed=SEED)
    big_report = generate_store(big, jobs=6, seed=SEED, scale=5)
    assert set(big.files) == set(small.files)  # same jobs, runs, steps, ids and times
    # Ids, keys and Perstack's fixed system prompt do not grow: less than 5x overall.
    assert big_report.bytes > 2 * small_report.bytes
    for key, body in small.files.items():
        if key.endswith("-streamReasoning.json"):
            assert len(big.files[key]) >= len(body)


def test_key_orders_are_those_of_the_real_store(files: dict[str, bytes]) -> None:
    """Every event, checkpoint, step and job.json key order the generator writes occurs in
    the store Perstack's runtime wrote (ignoring planted unknown types and fields)."""

    def shapes(tree: dict[str, bytes]) -> tuple[dict[str, set[tuple[str, ...]]], set[Any]]:
        events: dict[str, set[tuple[str, ...]]] = {}
        others: set[tuple[str, ...]] = set()
        for key, body in tree.items():
            value = json.loads(body)
            if kind(key) is KeyKind.EVENT:
                events.setdefault(value["type"], set()).add(
                    tuple(name for name in value if name != "traceId")
                )
                for name in ("checkpoint", "nextCheckpoint", "initialCheckpoint", "step"):
                    if name in value:
                        others.add((name == "step", *value[name]))
            elif kind(key) in (KeyKind.CHECKPOINT, KeyKind.JOB):
                others.add((kind(key) is KeyKind.JOB, *value))
        return events, others

    real_events, real_others = shapes(read_tree(FIXTURE_STORE))
    events, others = shapes(files)
    for event_type, orders in events.items():
        if event_type in KNOWN_EVENT_TYPES:
            assert orders <= real_events[event_type], event_type
    running_job_files = {order for order in others if order[0] and "finishedAt" not in order}
    assert others - running_job_files <= real_others


def test_checkpoint_files_are_the_step_ending_checkpoints(files: dict[str, bytes]) -> None:
    checkpoints = records(files, KeyKind.CHECKPOINT)
    embedded = {}
    for event in records(files, KeyKind.EVENT).values():
        if event["type"] in STEP_ENDING_EVENTS:
            embedded[event["checkpoint"]["id"]] = event["checkpoint"]
    for key, checkpoint in checkpoints.items():
        assert embedded[checkpoint["id"]] == checkpoint, key
        assert list(embedded[checkpoint["id"]]) == list(checkpoint)


def test_messages_and_usage_grow_along_the_job(files: dict[str, bytes]) -> None:
    by_job: dict[str, list[Any]] = {}
    for checkpoint in records(files, KeyKind.CHECKPOINT).values():
        by_job.setdefault(checkpoint["jobId"], []).append(checkpoint)
    for job_id, checkpoints in by_job.items():
        steps = sorted({cp["stepNumber"] for cp in checkpoints})
        assert steps == list(range(1, steps[-1] + 1)), job_id  # steps continue across runs
        chain = sorted(checkpoints, key=lambda cp: cp["stepNumber"])
        totals = [cp["usage"]["totalTokens"] for cp in chain]
        assert totals[-1] == max(totals), job_id


def test_every_scenario_has_its_shape(report: GenerationReport) -> None:
    assert set(report.scenarios) == set(SCENARIOS)
    expected_status = {
        "plain": {"completed"},
        "tools": {"completed"},
        "delegation": {"completed"},
        "parallel_delegation": {"completed"},
        "retry": {"completed"},
        "provider_error": {"stoppedByError"},
        "max_steps": {"stoppedByMaxSteps"},
        "interactive": {"completed", "stoppedByInteractiveTool"},
        "continued": {"completed"},
        "running": {"running"},
    }
    for scenario, statuses in expected_status.items():
        for facts in facts_of(report, scenario):
            assert facts.status in statuses, (scenario, facts)
    (tools, *_) = facts_of(report, "tools")
    for event_type in (
        "startStreamingReasoning",
        "streamReasoning",
        "completeStreamingReasoning",
        "startStreamingRunResult",
        "streamRunResult",
        "completeStreamingRunResult",
        "attemptCompletion",
    ):
        assert tools.events_by_type.get(event_type), event_type
    assert len(facts_of(report, "delegation")[0].run_ids) == 3
    assert len(facts_of(report, "parallel_delegation")[0].run_ids) >= 4
    assert facts_of(report, "retry")[0].events_by_type["retry"] == 1
    assert facts_of(report, "max_steps")[0].events_by_type["stopRunByExceededMaxSteps"] == 1


def test_tool_errors_are_there(files: dict[str, bytes]) -> None:
    results = [
        part
        for event in records(files, KeyKind.EVENT).values()
        if event["type"] == "finishToolCall"
        for message in event["newMessages"]
        for part in message["contents"]
    ]
    texts = [part["contents"][0]["text"] for part in results]
    assert any(part.get("isError") for part in results)
    assert any(text.startswith("Error") for text in texts)
    assert any(text.startswith('{"error":"Error"') for text in texts)  # the runtime's own form


def test_parallel_tool_calls_are_there(files: dict[str, bytes]) -> None:
    calls = [event for event in records(files, KeyKind.EVENT).values()]
    assert any(e["type"] == "callTools" and len(e["toolCalls"]) > 1 for e in calls)


def test_provider_failure_shape(files: dict[str, bytes]) -> None:
    errors = [e for e in records(files, KeyKind.EVENT).values() if e["type"] == "stopRunByError"]
    assert errors
    for event in errors:
        assert event["error"]["name"] == "AI_NoOutputGeneratedError"
        assert event["error"]["isRetryable"] is False
        assert event["checkpoint"]["status"] == "stoppedByError"


def test_continued_job_events_live_in_a_new_run_directory(
    files: dict[str, bytes], report: GenerationReport
) -> None:
    events = records(files, KeyKind.EVENT)
    for scenario in ("continued", "interactive"):
        for facts in facts_of(report, scenario):
            if facts.status != "completed":
                continue  # an interactive job never answered has one run only
            new_dirs = set(facts.run_ids) - set(facts.checkpoint_run_ids)
            assert new_dirs, facts
            for key, event in events.items():
                if key.split("/")[3] in new_dirs and "checkpoint" in event:
                    assert event["runId"] in new_dirs
                    assert event["checkpoint"]["runId"] != event["runId"]
                    assert event["checkpoint"]["runId"] in facts.checkpoint_run_ids


def test_interactive_answer_run_says_what_it_answers(full: Any) -> None:
    files, _ = full
    settings = records(files, KeyKind.RUN_SETTING)
    answered = [
        setting["input"]["interactiveToolCallResult"]
        for setting in settings.values()
        if "interactiveToolCallResult" in setting["input"]
    ]
    assert any(answer["toolName"] == "askUser" for answer in answered)
    assert any(answer["skillName"].startswith("delegate/") for answer in answered)


def test_running_job_has_not_ended(full: Any) -> None:
    files, report = full
    (facts, *_) = facts_of(report, "running")
    assert facts.last_checkpoint_status == "proceeding"
    assert facts.finished_at is None
    assert not set(facts.events_by_type) & {*ENDING_EVENTS, "stopRunByInteractiveTool"}
    job = json.loads(files[layout.job_key(facts.job_id)])
    assert job["status"] == "running" and "finishedAt" not in job


def test_unknown_types_and_fields_are_planted_and_reported(report: GenerationReport) -> None:
    unknown = [f for f in report.job_facts.values() if f.unknown_event_types]
    extra = [f for f in report.job_facts.values() if f.extra_event_fields]
    assert unknown and extra
    assert {t for f in unknown for t in f.unknown_event_types} == {"startCompaction"}
    assert {n for f in extra for n in f.extra_event_fields} == {"traceId"}
    assert set(report.events_by_type) - KNOWN_EVENT_TYPES == {"startCompaction"}


# ---------------------------------------------------------------- CLI


def test_cli_writes_a_store_and_refuses_to_mix_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--output", str(tmp_path), "--jobs", "3", "--seed", "2", "--scale", "0.5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "3 jobs" in out
    assert len(list((tmp_path / "jobs").iterdir())) == 3
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("Error: ")


# ---------------------------------------------------------------- the "long" profile

LONG = {"jobs": 3, "seed": 4, "scale": 0.05, "profile": "long"}  # a tools job of 84 steps


class ToolResultWriter:
    """Keeps only the tool results of a store, so a full-size long store fits a test."""

    def __init__(self) -> None:
        self.results: list[tuple[str, str]] = []  # (toolName, result text)

    def write(self, key: str, body: bytes) -> None:
        if key.endswith("-resolveToolResults.json"):
            for result in orjson.loads(body)["toolResults"]:
                self.results.append((result["toolName"], result["result"][0]["text"]))


class DiscardingWriter:
    def write(self, key: str, body: bytes) -> None:
        pass


@pytest.fixture(scope="module")
def long_store() -> tuple[dict[str, bytes], GenerationReport]:
    writer = MemoryWriter()
    return writer.files, generate_store(writer, **LONG)


def checkpoints_by_run(files: dict[str, bytes]) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {}
    for checkpoint in records(files, KeyKind.CHECKPOINT).values():
        runs.setdefault(checkpoint["runId"], []).append(checkpoint)
    return {run: sorted(chain, key=lambda cp: cp["stepNumber"]) for run, chain in runs.items()}


def test_long_profile_is_deterministic_and_leaves_the_default_alone(long_store: Any) -> None:
    again = MemoryWriter()
    generate_store(again, **LONG)
    assert digest(again.files) == digest(long_store[0])
    default = MemoryWriter()
    generate_store(default, jobs=LONG["jobs"], seed=LONG["seed"], scale=LONG["scale"])
    assert set(default.files) != set(long_store[0])


def test_long_sessions_run_tens_to_a_hundred_plus_steps() -> None:
    report = generate_store(DiscardingWriter(), jobs=40, seed=11, scale=0.01, profile="long")
    steps = [facts.total_steps for facts in report.job_facts.values()]
    session_steps = [
        facts.total_steps for facts in report.job_facts.values() if facts.scenario == "tools"
    ]
    assert min(session_steps) >= 10
    assert 25 <= statistics.median(steps) <= 90
    assert max(steps) >= 100


def test_long_tool_results_are_1_to_100_kb_of_varied_realistic_text() -> None:
    writer = ToolResultWriter()
    generate_store(writer, jobs=3, seed=4, profile="long")  # full size: ~80 tool steps
    bulky = [  # file contents and command output (not the short "no such file" errors)
        text
        for tool, text in writer.results
        if tool == "exec" or (tool == "readTextFile" and text.startswith('{"path"'))
    ]
    sizes = sorted(len(text.encode()) for text in bulky)
    assert len(sizes) >= 30
    assert sizes[0] >= 900 and sizes[-1] <= 110_000
    assert 2_000 <= statistics.median(sizes) <= 12_000
    assert sizes[-1] >= 30_000
    assert len(set(bulky)) == len(bulky)  # no result repeats another
    # Compresses like real code and prose (zlib ~3-4x), not like a repeated string.
    sample = "".join(bulky).encode()[:2_000_000]
    assert 2.5 <= len(sample) / len(zlib.compress(sample, 6)) <= 4.5
    commands = [text for tool, text in writer.results if tool == "exec"]
    assert commands and all(
        text.startswith(("> app@", "Error: Command failed")) for text in commands
    )


def test_long_checkpoints_hold_the_whole_conversation_with_stable_ids(long_store: Any) -> None:
    """Spec §5: each checkpoint of a run begins with the previous one's messages, same ids."""
    runs = checkpoints_by_run(long_store[0])
    longest = max(len(chain) for chain in runs.values())
    assert longest >= 50
    for run_id, chain in runs.items():
        for before, after in itertools.pairwise(chain):
            ids_before = [message["id"] for message in before["messages"]]
            ids_after = [message["id"] for message in after["messages"]]
            assert ids_after[: len(ids_before)] == ids_before, run_id
            assert len(set(ids_after)) == len(ids_after), run_id
        assert chain[-1]["messages"][-1]["contents"], run_id


def test_long_store_bytes_grow_with_the_square_of_a_session(long_store: Any) -> None:
    files, _ = long_store
    chain = max(checkpoints_by_run(files).values(), key=len)
    sizes = [len(orjson.dumps(checkpoint)) for checkpoint in chain]
    assert sizes == sorted(sizes)  # every step adds to the conversation
    assert sizes[-1] >= 8 * sizes[0]
    # Linear growth per checkpoint: the run's checkpoints hold ~n/2 times its last one.
    assert sum(sizes) >= 0.3 * len(sizes) * sizes[-1]
    job_id = chain[0]["jobId"]
    job_bytes = sum(len(body) for key, body in files.items() if key.startswith(f"jobs/{job_id}/"))
    assert job_bytes >= 3 * sum(sizes)  # the step-closing events carry the checkpoints again


def test_long_step_closing_events_carry_their_checkpoint(long_store: Any) -> None:
    files, _ = long_store
    checkpoints = {cp["id"]: cp for cp in records(files, KeyKind.CHECKPOINT).values()}
    closing = [
        event
        for event in records(files, KeyKind.EVENT).values()
        if event["type"] in STEP_ENDING_EVENTS
    ]
    assert len(closing) >= len(checkpoints)
    for event in closing:
        assert event["checkpoint"] == checkpoints[event["checkpoint"]["id"]], event["id"]


def test_long_profile_writes_no_optional_files_unless_asked(long_store: Any) -> None:
    files, report = long_store
    assert report.job_files == report.run_settings == 0
    assert not [key for key in files if kind(key) in (KeyKind.JOB, KeyKind.RUN_SETTING)]
    kept = MemoryWriter()
    options = {**LONG, "jobs": 1, "seed": 2, "scale": 0.01}
    with_files = generate_store(kept, **options, with_job_files=1.0, with_run_settings=1.0)
    assert with_files.job_files == 1 and with_files.run_settings == with_files.runs
    without = MemoryWriter()
    generate_store(without, **options)
    assert set(without.files) < set(kept.files)


def test_the_decoder_reads_every_file_of_a_long_store(tmp_path: Path) -> None:
    report = generate_store(DirectoryWriter(tmp_path), **LONG)
    with connect(tmp_path, cache=False) as history:
        counts = history.sql(
            "select (select count(*) from skipped_files), (select count(*) from checkpoints),"
            " (select count(*) from events), (select count(*) from jobs)"
        ).fetchone()
    assert counts == (0, report.checkpoints, report.events, report.jobs)


def test_long_cli_stops_at_the_size_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "store"
    argv = ["--profile", "long", "--output", str(output), "--scale", "0.01", "--size", "2M"]
    assert main(argv) == 0
    assert "0 job.json, 0 run-setting.json" in capsys.readouterr().out
    total = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    assert total >= 2_000_000
    assert len(list((output / "jobs").iterdir())) < 10  # stopped, not 1000 jobs
    with pytest.raises(SystemExit) as exit_info:
        main(["--profile", "long", "--output", str(tmp_path / "other"), "--size", "lots"])
    assert exit_info.value.code == 2
    assert "not a size: 'lots'" in capsys.readouterr().err
