"""Search finds a word planted in every kind of text an agent said or saw, on the filesystem
and on S3 (moto over HTTP), and never what sits in a run setting's secrets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import FIXTURE_STORE
from support.cli import run_cli
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION, upload_tree

from perstack_logq.api import History, connect
from perstack_logq.search.query import SearchQuery, snippet

# kind of text -> the word planted in it (each appears nowhere else in the store)
PLANTED = {
    "userMessage": "quokkauser",
    "expertMessage": "quokkaexpert",
    "reasoning": "quokkareason",
    "toolCall": "quokkaargs",
    "toolResult": "quokkaresult",
    "error": "quokkaerror",
    "runResult": "quokkafinal",
}
SECRET_WORDS = ("quokkasecretenv", "quokkasecretkey", "quokkaproxypass")


def _plant_in_parts(messages: list[dict], planted: set[str]) -> None:
    for message in messages:
        for part in message.get("contents", []):
            kind = part.get("type")
            if kind == "textPart" and message["type"] == "expertMessage":
                part["text"] += f" {PLANTED['expertMessage']}"
                planted.add("expertMessage")
            elif kind == "thinkingPart":
                part["thinking"] += f" {PLANTED['reasoning']}"
                planted.add("reasoning")
            elif kind == "toolCallPart":
                part["args"]["note"] = f"about {PLANTED['toolCall']}"
                planted.add("toolCall")
            elif kind == "toolResultPart":
                for inner in part["contents"]:
                    if inner.get("type") == "textPart":
                        inner["text"] += f" {PLANTED['toolResult']}"
                        planted.add("toolResult")


def plant(store: Path) -> None:
    """Plant each word in its kind of text, and secret words in every run setting."""
    planted: set[str] = set()
    for path in sorted(store.glob("jobs/*/runs/*/event-*.json")):
        record = json.loads(path.read_text())
        kind = record["type"]
        if kind == "startRun":
            for message in record["inputMessages"]:
                for part in message["contents"]:
                    if message["type"] == "userMessage" and part["type"] == "textPart":
                        part["text"] += f" {PLANTED['userMessage']}"
                        planted.add("userMessage")
        elif "step" in record:
            _plant_in_parts(record["step"].get("newMessages", []), planted)
        if kind == "stopRunByError":
            record["error"]["message"] += f" {PLANTED['error']}"
            planted.add("error")
        if kind == "completeRun":
            record["text"] += f" {PLANTED['runResult']}"
            planted.add("runResult")
        path.write_text(json.dumps(record))
    assert planted == set(PLANTED)
    for path in store.glob("jobs/*/runs/*/run-setting.json"):
        record = json.loads(path.read_text())
        record["env"]["PLANTED_TOKEN"] = SECRET_WORDS[0]
        record["providerConfig"]["apiKey"] = SECRET_WORDS[1]
        record["proxyUrl"] = f"http://user:{SECRET_WORDS[2]}@proxy.example:8080"
        path.write_text(json.dumps(record))


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("planted") / "perstack"
    shutil.copytree(FIXTURE_STORE, store)
    plant(store)
    return store


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def history(
    request: pytest.FixtureRequest,
    planted_store: Path,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    with pytest.MonkeyPatch.context() as env:
        if request.param == "filesystem":
            opened = connect(str(planted_store), cache=False)
        else:
            upload_tree(moto_endpoint, "planted", "perstack/", planted_store)
            home = tmp_path_factory.mktemp("aws")
            env.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
            env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
            env.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
            env.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
            env.setenv("AWS_DEFAULT_REGION", REGION)
            env.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
            opened = connect("s3://planted/perstack/", cache=False)
        opened.sync()
    with opened:
        yield opened


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_kind_of_text_is_found(history: History, kind: str) -> None:
    hits = history.search(PLANTED[kind], limit=100).fetchall()
    columns = history.search(PLANTED[kind], limit=1).columns
    assert hits, kind
    kinds = {dict(zip(columns, hit, strict=True))["kind"] for hit in hits}
    assert kinds == {kind}
    for hit in hits:
        row = dict(zip(columns, hit, strict=True))
        assert f"«{PLANTED[kind]}»" in row["snippet"]
        assert row["job_id"] and row["run_id"] and row["event_time"] and row["event_type"]
        assert row["expert_key"] and row["step_number"] is not None


def test_nothing_planted_in_run_settings_is_found(history: History) -> None:
    for word in SECRET_WORDS:
        assert history.search(word).fetchall() == []
    assert history.search("quokka*").fetchall()  # the prefix itself works
    for word in SECRET_WORDS:
        assert not [h for h in history.search("quokka*", limit=1000).fetchall() if word in h[-1]]


def test_filters_narrow_the_hits(history: History) -> None:
    everything = history.search(PLANTED["toolResult"], limit=100).fetchall()
    job_id = everything[0][1]
    in_job = history.search(PLANTED["toolResult"], job=job_id, limit=100).fetchall()
    assert in_job and {hit[1] for hit in in_job} == {job_id}
    assert len(in_job) < len(everything)
    assert history.search(PLANTED["toolResult"], type="reasoning").fetchall() == []
    assert len(history.search(PLANTED["toolResult"], limit=2).fetchall()) == 2
    assert history.search(PLANTED["toolResult"], until="2000-01-01").fetchall() == []


def test_words_phrases_and_prefixes(history: History) -> None:
    # A word matches its other forms (stemming), a phrase only as written, a prefix its words.
    assert history.search("reads").fetchall()
    assert history.search('"hello from notes"').fetchall()
    assert history.search('"notes from hello"').fetchall() == []
    prefixed = {hit[-1] for hit in history.search("quokkaer*", limit=100).fetchall()}
    assert prefixed and all("«quokkaerror»" in text for text in prefixed)
    # Ranked: the best hit comes first.
    scores = [hit[0] for hit in history.search("notes summary", limit=50).fetchall()]
    assert scores == sorted(scores, reverse=True)


def test_index_is_refreshed_only_when_documents_change(tmp_path: Path) -> None:
    from perstack_logq.search.index import refresh_index

    store = tmp_path / "perstack"
    shutil.copytree(FIXTURE_STORE, store)
    with connect(str(store), cache=True, cache_dir=tmp_path / "cache") as history:
        history.sync()
        first = refresh_index(history.database)
        assert first.rebuilt and first.added_sources > 0
        again = refresh_index(history.database)
        assert not again.rebuilt and again.added_sources == 0
        assert again.documents == first.documents
    # A file that changes and one that goes: only they are re-read, and the index rebuilt.
    events = sorted(store.glob("jobs/*/runs/*/event-*-completeRun.json"))
    record = json.loads(events[0].read_text())
    record["text"] = "wombatfinal"
    events[0].write_text(json.dumps(record))
    events[1].unlink()
    with connect(str(store), cache=True, cache_dir=tmp_path / "cache") as history:
        history.sync(rescan=True)
        after = refresh_index(history.database)
        assert after.rebuilt and after.added_sources == 1 and after.removed_sources == 2
        assert history.search("wombatfinal").fetchall()


def test_cli_search_prints_marked_snippets_and_json(planted_store: Path) -> None:
    args = ("log", "search", PLANTED["error"], "--storage", str(planted_store), "--no-cache")
    table = run_cli(*args, check=True)
    assert f"«{PLANTED['error']}»" in table.stdout and "stopRunByError" in table.stdout
    rows = json.loads(run_cli(*args, "--json", check=True).stdout)
    assert rows and {row["kind"] for row in rows} == {"error"}
    assert run_cli("log", "search", '""', "--storage", str(planted_store)).returncode == 2


def test_query_parsing_and_hostile_snippets() -> None:
    query = SearchQuery.parse('deploy "Exact  Phrase" pre* x_y')
    assert query.words == ("deploy", "x", "y")
    assert query.phrases == ("exact phrase",)
    assert query.prefixes == ("pre",)
    import re

    text = "ok \x1b[31mred\x1b[0m then the target word \u202e here"
    marked = snippet(text, re.compile("target"))
    assert "\x1b" not in marked and "\u202e" not in marked
    assert "«target»" in marked and "\\u001b" in marked
