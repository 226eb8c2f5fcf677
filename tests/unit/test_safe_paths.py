"""Folders that `atelier export --to` and `atelier synth --out` replace: only their own earlier output."""

from __future__ import annotations

from pathlib import Path

import pytest

from atelier.collect.synth import WRITES as SYNTH
from atelier.config.platform import MlflowConfig, PlatformConfig
from atelier.errors import InputRefused
from atelier.safe_paths import PROJECT_ROOT, check_replaceable, platform_folders
from atelier.tracking.export import WRITES as MLFLOW_EXPORT
from atelier.tracking.export import staged
from atelier.tracking.onnx_export import WRITES as ONNX_EXPORT


def write(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    return folder


def an_mlflow_export(folder: Path) -> Path:
    return write(folder, "model/MLmodel", "model/python_model.pkl", "requirements.txt", "README.md")


@pytest.mark.parametrize(
    "guarded",
    [Path("/"), Path.home(), Path.home().parent, PROJECT_ROOT, PROJECT_ROOT.parent, PROJECT_ROOT / "src" / ".."],
)
def test_the_root_home_and_checkout_and_folders_above_them_are_refused(guarded: Path) -> None:
    with pytest.raises(InputRefused, match="--to .*refusing to replace the"):
        check_replaceable(guarded, MLFLOW_EXPORT, "--to")


def test_the_working_directory_and_folders_above_it_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for target in (Path("."), Path(".."), work):
        with pytest.raises(InputRefused, match="the working directory"):
            check_replaceable(target, SYNTH, "--out")
    assert check_replaceable(Path("out"), SYNTH, "--out") == work / "out"


def test_a_symlink_is_judged_by_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(Path.home())
    with pytest.raises(InputRefused, match="the home directory"):
        check_replaceable(link, MLFLOW_EXPORT, "--to")


def platform_under(root: Path) -> PlatformConfig:
    return PlatformConfig(
        lake_root=str(root / "lake"),
        metastore_dir=str(root / "metastore"),
        cache_dir=str(root / "cache"),
        reports_dir=str(root / "reports"),
        mlflow=MlflowConfig(tracking_uri=f"sqlite:///{root}/mlflow/mlflow.db", artifact_root=str(root / "artifacts")),
    )


def test_platform_folders_are_the_local_ones() -> None:
    remote = PlatformConfig(
        mlflow=MlflowConfig(tracking_uri="postgresql://mlflow@db/mlflow", artifact_root="s3://bucket/artifacts")
    )
    assert platform_folders(remote) == [
        Path(p).resolve() for p in ("var/lake", "var/metastore", "var/cache", "var/reports")
    ]
    assert Path("var/mlflow").resolve() in platform_folders(PlatformConfig())
    assert Path("var/mlflow/artifacts").resolve() in platform_folders(PlatformConfig())


@pytest.mark.parametrize(
    "where", ["lake", "lake/gold/export", "metastore", "mlflow", "artifacts/1", "cache", "reports", "."]
)
def test_a_target_overlapping_a_platform_folder_is_refused(tmp_path: Path, where: str) -> None:
    protected = platform_folders(platform_under(tmp_path))
    with pytest.raises(InputRefused, match="--to .*overlaps the platform folder"):
        check_replaceable(tmp_path / where, MLFLOW_EXPORT, "--to", protected)
    assert check_replaceable(tmp_path / "export", MLFLOW_EXPORT, "--to", protected) == tmp_path / "export"


def test_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputRefused, match="is a file"):
        check_replaceable(write(tmp_path, "notes.txt") / "notes.txt", ONNX_EXPORT, "--to")


@pytest.mark.parametrize(
    ("output", "names", "reason"),
    [
        (MLFLOW_EXPORT, ["thesis.tex", "README.md"], r"it holds \['thesis.tex'\]"),
        (MLFLOW_EXPORT, ["README.md", "requirements.txt"], "it has no model/MLmodel"),
        (ONNX_EXPORT, ["model/MLmodel", "README.md", "requirements.txt"], r"it holds \['README.md', 'model', 'req"),
        (ONNX_EXPORT, ["model.onnx", "manifest.json", "keys.pem"], r"it holds \['keys.pem'\]"),
        (SYNTH, ["part-00000.parquet"], "it has no _SUCCESS"),
        (SYNTH, ["_SUCCESS", "part-00000.parquet", "data.csv"], r"it holds \['data.csv'\]"),
    ],
)
def test_a_folder_not_written_by_the_same_command_is_refused(
    tmp_path: Path, output, names: list[str], reason: str
) -> None:
    folder = write(tmp_path / "target", *names)
    with pytest.raises(InputRefused, match=f"not written by {output.command} \\({reason}"):
        check_replaceable(folder, output, "--to")


@pytest.mark.parametrize(
    ("output", "names"),
    [
        (MLFLOW_EXPORT, ["model/MLmodel", "model/conda.yaml", "requirements.txt", "README.md"]),
        (ONNX_EXPORT, ["model.onnx", "manifest.json"]),
        (
            SYNTH,
            [
                "_SUCCESS",
                "._SUCCESS.crc",
                "part-00000-1f.c000.snappy.parquet",
                ".part-00000-1f.c000.snappy.parquet.crc",
            ],
        ),
    ],
)
def test_an_earlier_output_of_the_same_command_is_replaceable(tmp_path: Path, output, names: list[str]) -> None:
    folder = write(tmp_path / "target", *names)
    assert check_replaceable(folder, output, "--to") == folder
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_replaceable(empty, output, "--to") == empty


def test_staged_replaces_an_earlier_export_and_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = an_mlflow_export(tmp_path / "bundle")
    with pytest.raises(RuntimeError), staged(target, MLFLOW_EXPORT) as staging:
        an_mlflow_export(staging)
        raise RuntimeError("download failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert (target / "model" / "python_model.pkl").is_file()
    with staged(target, MLFLOW_EXPORT) as staging:
        write(staging, "model/MLmodel", "README.md")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "model"]


def test_staged_refuses_before_touching_anything(tmp_path: Path) -> None:
    home_like = write(tmp_path / "me", ".bashrc", "photos/cat.jpg")
    with pytest.raises(InputRefused, match=r"--to .*not written by atelier export --format mlflow"):
        with staged(home_like, MLFLOW_EXPORT):
            pytest.fail("the block must not run")
    assert (home_like / "photos" / "cat.jpg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me"]
