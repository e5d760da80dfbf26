import pytest

from llm_pretrain.pipeline.extract.inputs import InputError, discover, kind_of, plan_tasks


@pytest.mark.parametrize(
    "name, kind",
    [
        ("CC-MAIN-1.warc.wet.gz", "warc"),
        ("a.warc.gz", "warc"),
        ("a.WARC", "warc"),
        ("p.html.gz", "html"),
        ("p.htm", "html"),
        ("r.pdf", "pdf"),
        ("n.md", "text"),
        ("d.jsonl.gz", "jsonl"),
        ("d.parquet", "parquet"),
        ("photo.png", None),
    ],
)
def test_kind_by_suffix(name, kind):
    assert kind_of(name) == kind


def test_discover_folders_globs_and_unsupported(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    for name in [
        "a/x.html",
        "a/b/y.pdf",
        "a/b/z.png",
        "a/.secret.html",
        "a/.hidden/q.html",
        "c.txt",
    ]:
        (tmp_path / name).write_text("hello")
    files, unsupported = discover([str(tmp_path / "a"), str(tmp_path / "*.txt")])
    assert [f.path.removeprefix(str(tmp_path)) for f in files] == [
        "/a/b/y.pdf",
        "/a/x.html",
        "/c.txt",
    ]
    assert [f.kind for f in files] == ["pdf", "html", "text"]
    assert unsupported == [str(tmp_path / "a" / "b" / "z.png")]


def test_duplicates_are_read_once(tmp_path):
    (tmp_path / "x.html").write_text("hi")
    files, _ = discover([str(tmp_path / "x.html"), str(tmp_path)])
    assert len(files) == 1


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover([str(tmp_path / "nope.warc.gz")])
    with pytest.raises(InputError, match="matches no file"):
        discover([str(tmp_path / "*.warc")])


def test_plan_groups_small_files_and_isolates_containers(tmp_path):
    names = ["a.html", "b.html", "c.warc.gz", "d.html", "e.pdf", "f.html", "g.html"]
    for name in names:
        (tmp_path / name).write_bytes(b"x" * 10)
    files, _ = discover([str(tmp_path)])
    tasks = plan_tasks(files, max_files=2, max_bytes=10_000)
    layout = [[f.path.rsplit("/", 1)[1] for f in task.files] for task in tasks]
    assert layout == [
        ["a.html", "b.html"],
        ["c.warc.gz"],
        ["d.html", "e.pdf"],
        ["f.html", "g.html"],
    ]
    assert [task.index for task in tasks] == [0, 1, 2, 3]
    by_bytes = plan_tasks(files, max_files=100, max_bytes=25)
    assert all(task.input_bytes <= 25 or len(task.files) == 1 for task in by_bytes)
