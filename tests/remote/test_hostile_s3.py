"""Hostile cases of stages writing and reading an S3-compatible store (moto's server on 127.0.0.1):
URL spellings that defeat the overlap check, a store that goes away mid-publish, the order in
which the background publisher uploads, damaged or edited datasets in the store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import write_test_warc

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")


def llm_data(*args: str, check: bool = True, env: dict | None = None, cwd: Path | None = None):
    command = [sys.executable, "-m", "llm_pretrain", *args, "--workers", "1", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def errors(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if not line[:4].isdigit()]  # no log lines


@pytest.fixture
def warcs(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LLM_PRETRAIN_STAGING", str(tmp_path / "staging"))
    folder = tmp_path / "crawl"
    folder.mkdir()
    for index in range(3):
        write_test_warc(folder / f"c{index}.warc.gz", pages=6)
    return folder


def store_shards(fs, root: str) -> dict[str, bytes]:
    manifest = json.loads(fs.cat_file(f"{root}/_manifest.json"))
    names = [s["file"] for s in manifest["shards"] + manifest["rejected_shards"]]
    return {name: fs.cat_file(f"{root}/{name}") for name in names}


def test_an_output_spelled_in_upper_case_is_still_the_input(warcs, s3):
    """`filter -i s3://b/ds -o S3://b/ds --overwrite`: the same prefix, refused before
    --overwrite could delete the input dataset."""
    fs, bucket = s3
    llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/ds")
    before = sorted(fs.find(f"{bucket}/ds"))
    done = llm_data("filter", "-i", f"s3://{bucket}/ds", "-o", f"S3://{bucket}/ds",
                    "--overwrite", check=False)  # fmt: skip
    fs.invalidate_cache()
    assert sorted(fs.find(f"{bucket}/ds")) == before, "the input dataset was deleted"
    assert done.returncode != 0 and "overlaps the input" in done.stderr


@pytest.mark.parametrize("given", ["s3://", "s3:///"])
def test_a_store_url_without_a_bucket_is_a_one_line_usage_error(warcs, tmp_path, given):
    done = llm_data("extract", "-i", str(warcs), "-o", given, check=False, cwd=tmp_path)
    assert not (tmp_path / "s3:").exists(), "a local folder 's3:' was made"
    assert done.returncode == 2 and len(errors(done)) == 1, done.stderr


def test_an_input_url_without_a_bucket_is_a_one_line_error(warcs, s3, tmp_path):
    done = llm_data("extract", "-i", "s3://", "-o", str(tmp_path / "out"), check=False)
    assert done.returncode == 2 and "internal error" not in done.stderr, done.stderr


def test_a_shard_changed_in_the_store_is_named_by_its_url(warcs, s3, tmp_path):
    fs, bucket = s3
    llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/ds")
    manifest = json.loads(fs.cat_file(f"{bucket}/ds/_manifest.json"))
    name = manifest["shards"][0]["file"]
    data = bytearray(fs.cat_file(f"{bucket}/ds/{name}"))
    data[200] ^= 1  # same size, another sha256
    fs.pipe_file(f"{bucket}/ds/{name}", bytes(data))
    done = llm_data("filter", "-i", f"s3://{bucket}/ds", "-o", str(tmp_path / "f"), check=False)
    assert done.returncode == 1 and len(errors(done)) == 1
    assert "does not match its recorded sha256" in done.stderr
    assert f"s3://{bucket}/ds/{name}" in done.stderr  # not its temporary copy


def test_the_publisher_never_sends_a_marker_before_its_shard(tmp_path, monkeypatch):
    """A task finishes while a pass walks the staging folder: its shard is renamed into the
    top folder after the walk listed it, its marker written before the walk reaches
    `_progress/`. Killed before the next pass, the store holds a marker naming no shard, and
    a run resumed from the store on another machine commits a manifest naming a missing
    shard (test_a_marker_without_its_shard_in_the_store_is_not_committed)."""
    from llm_pretrain.remote import folders

    local = tmp_path / "staging"
    (local / "_progress").mkdir(parents=True)
    (local / "_progress" / "plan.json").write_text("{}")
    (local / "part-00000.parquet").write_bytes(b"0")
    (local / "_progress" / "task-00000.json").write_text("{}")

    class Store:
        url = "s3://fake/out"

        def __init__(self) -> None:
            self.sent: list[str] = []

        def upload(self, path: Path, name: str) -> None:
            self.sent.append(name)

    real_walk = os.walk
    finished = threading.Event()

    def walk_during_a_commit(top, *args, **kwargs):
        for entry in real_walk(top, *args, **kwargs):
            yield entry
            if not finished.is_set():  # task 1 commits: shard first, then its marker
                finished.set()
                (local / "part-00001.parquet").write_bytes(b"1")
                (local / "_progress" / "task-00001.json").write_text("{}")

    store = Store()
    publisher = folders.Publisher(store, local, "_progress", ("_manifest.json",), lambda n: False)
    monkeypatch.setattr(folders.os, "walk", walk_during_a_commit)
    publisher.publish()
    for index in range(2):
        marker = f"_progress/task-{index:05d}.json"
        if marker in store.sent:
            shard = f"part-{index:05d}.parquet"
            assert shard in store.sent[: store.sent.index(marker)], store.sent


def test_a_marker_without_its_shard_in_the_store_runs_its_task_again(s3, tmp_path, monkeypatch):
    """A marker in the store without its shard (a run killed between two uploads, or by an
    earlier version's publisher): resumed from the store, the task runs again, and the
    manifest names only shards the store holds."""
    monkeypatch.setenv("LLM_PRETRAIN_STAGING", str(tmp_path / "staging"))
    fs, bucket = s3
    files = 24  # tasks enough that the run cannot finish before two markers are in the store
    for index in range(files):
        path = tmp_path / f"big{index}.warc.gz"
        write_test_warc(path, pages=60)
        fs.put_file(str(path), f"{bucket}/big/big{index}.warc.gz")
    url = f"s3://{bucket}/out"
    args = ["extract", "-i", f"s3://{bucket}/big/", "-o", url, "--workers", "1", "-q"]
    process = subprocess.Popen([sys.executable, "-m", "llm_pretrain", *args],
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(fs.glob(f"{bucket}/out/_progress/task-*.json")) < 2:
        assert process.poll() is None, "run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
        fs.invalidate_cache()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    fs.invalidate_cache()
    marker = json.loads(fs.cat_file(f"{bucket}/out/_progress/task-00000.json"))
    assert marker  # task 0 is done in the store
    fs.rm(f"{bucket}/out/part-00000.parquet")  # ... but its shard never arrived
    subprocess.run(["rm", "-rf", str(tmp_path / "staging")], check=True)  # another machine
    done_before = len(fs.glob(f"{bucket}/out/_progress/task-*.json"))
    rerun = llm_data(*args[:5], "--json")
    assert json.loads(rerun.stdout)["tasks_run"] == files - done_before + 1  # task 0 again
    fs.invalidate_cache()
    manifest = json.loads(fs.cat_file(f"{bucket}/out/_manifest.json"))
    missing = [s["file"] for s in manifest["shards"] + manifest["rejected_shards"]
               if not fs.exists(f"{bucket}/out/{s['file']}")]  # fmt: skip
    assert not missing, f"committed a manifest naming missing shards: {missing}"


def test_an_edited_manifest_in_the_store_is_one_line_as_input_and_output(warcs, s3, tmp_path):
    """Guard."""
    fs, bucket = s3
    llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/ds")
    fs.pipe_file(f"{bucket}/ds/_manifest.json", b"{not json")
    for args in (
        ["filter", "-i", f"s3://{bucket}/ds", "-o", str(tmp_path / "f")],
        ["extract", "-i", str(warcs), "-o", f"s3://{bucket}/ds"],
    ):
        done = llm_data(*args, check=False)
        assert done.returncode == 1 and errors(done) == [
            f"Error: s3://{bucket}/ds/_manifest.json is not readable JSON; it was edited"
        ]
    llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/ds", "--overwrite")
    assert json.loads(fs.cat_file(f"{bucket}/ds/_manifest.json"))["stage"] == "extract"


def test_overwrite_keeps_the_users_files_and_cards_beside_a_dataset(warcs, s3):
    """Guard: --overwrite on a prefix holding a dataset and the user's own files and cards."""
    fs, bucket = s3
    llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/mine")
    mine = {
        "notes.txt": b"keep me",
        "sub/part-00000.parquet": b"mine too",
        "_README.md": b"my own card\n",
        ".huggingface.yaml": b"mine: true\n",
    }
    for name, data in mine.items():
        fs.pipe_file(f"{bucket}/mine/{name}", data)
    llm_data("extract", "-i", str(warcs / "c0.warc.gz"), "-o", f"s3://{bucket}/mine",
             "--overwrite")  # fmt: skip
    fs.invalidate_cache()
    for name, data in mine.items():
        assert fs.cat_file(f"{bucket}/mine/{name}") == data, name
    assert len(store_shards(fs, f"{bucket}/mine")) == 2


class Proxy:
    """A TCP proxy to the S3 server that can be taken down (the store unreachable) and brought
    back on the same port."""

    def __init__(self, target: str) -> None:
        self.target = int(target.rsplit(":", 1)[1])
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.sockets: list[socket.socket] = []

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        for sock in [self.server, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_the_store_going_away_mid_publish_is_one_line_and_a_rerun_publishes(
    s3, s3_endpoint, tmp_path, monkeypatch
):
    """Guard: the store becomes unreachable after two tasks are uploaded; the run ends with one
    error line (the staging folder holds the finished, unpublished run), and the same command
    run once the store is back publishes the shards of a run without the outage."""
    monkeypatch.setenv("LLM_PRETRAIN_STAGING", str(tmp_path / "staging"))
    fs, bucket = s3
    folder = tmp_path / "big"
    folder.mkdir()
    for index in range(8):
        write_test_warc(folder / f"big{index}.warc.gz", pages=60)
    quick = ["--set", "storage.options={s3: {config_kwargs: {retries: {max_attempts: 1}, "
             "connect_timeout: 1}}}"]  # fmt: skip
    llm_data("extract", "-i", str(folder), "-o", f"s3://{bucket}/clean", *quick)
    proxy = Proxy(s3_endpoint)
    proxy.up()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}
    command = [sys.executable, "-m", "llm_pretrain", "extract", "-i", str(folder), "-o",
               f"s3://{bucket}/out", "--workers", "1", "-q", *quick]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(fs.glob(f"{bucket}/out/_progress/task-*.json")) < 2:
        assert process.poll() is None, "run finished before the store went away"
        assert time.monotonic() < deadline
        time.sleep(0.05)
        fs.invalidate_cache()
    proxy.down()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not line[:4].isdigit()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "cannot be" in lines[0]
    fs.invalidate_cache()
    assert not fs.exists(f"{bucket}/out/_manifest.json")
    proxy.up()
    try:
        rerun = llm_data("extract", "-i", str(folder), "-o", f"s3://{bucket}/out", *quick,
                         env=env)  # fmt: skip
    finally:
        proxy.down()
    assert rerun.returncode == 0
    fs.invalidate_cache()
    assert store_shards(fs, f"{bucket}/out") == store_shards(fs, f"{bucket}/clean")
    assert not fs.glob(f"{bucket}/out/_progress/*")
    assert not list((tmp_path / "staging").iterdir())


def test_a_glob_inside_a_hidden_prefix_matches_as_a_local_glob_does(s3):
    """`-i 'loc/.data/*.warc.gz'` reads loc/.data/a.warc.gz; the same glob in a store matched
    no file ('.data' counted as hidden although the argument names it)."""
    from llm_pretrain.remote import stores
    from llm_pretrain.remote.config import StorageConfig
    from llm_pretrain.remote.listing import list_url

    fs, bucket = s3
    fs.pipe_file(f"{bucket}/.data/a.warc.gz", b"x")
    fs.pipe_file(f"{bucket}/.data/.b.warc.gz", b"x")  # hidden below the glob: left out
    stores.use(StorageConfig())
    stores._filesystem.cache_clear()  # made with this test's AWS variables
    found = [url for url, _, _ in list_url(f"s3://{bucket}/.data/*.warc.gz")]
    assert found == [f"s3://{bucket}/.data/a.warc.gz"]


def test_a_storage_option_the_store_does_not_take_is_a_one_line_usage_error(warcs, s3):
    fs, bucket = s3
    done = llm_data("extract", "-i", str(warcs), "-o", f"s3://{bucket}/x", "--set",
                    "storage.options={s3: {retries: 1}}", check=False)  # fmt: skip
    assert done.returncode == 2 and "internal error" not in done.stderr, done.stderr
    assert len(errors(done)) == 1 and "storage.options.s3" in done.stderr
