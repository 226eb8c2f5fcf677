"""Source files before Spark reads them: compression by first bytes, empty files, the decode check."""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
from pathlib import Path

import pytest

from atelier.collect.sources import BadLine, compression_of, resolve_location, undecodable_lines
from atelier.config.sources import SourceConfig
from atelier.errors import SourceError

TEXT = "year,origin\n2013,EWR\n2013,JFK\n"
LATIN1 = "year,origin\n2013,EWR\n2013,MÉX\n2013,JFK".encode("latin-1")  # line 3 is not UTF-8; no final newline


def source(path: Path, **settings: object) -> SourceConfig:
    return SourceConfig(
        kind="reference", format="csv", path=str(path), columns={"year": "int", "origin": "string"}, **settings
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"\x1f\x8b\x08\x00", "gzip"), (b"BZh9", "bzip2"), (b"PK\x03\x04", "zip"), (b"year", None), (b"\x1f", None)],
)
def test_compression_is_recognized_by_the_first_bytes(head: bytes, expected: str | None) -> None:
    assert compression_of(head) == expected


@pytest.mark.parametrize("chunk_size", [3, 7, 1 << 22])
def test_undecodable_lines_are_found_whatever_the_chunks(chunk_size: int) -> None:
    """Small chunks cut lines and the two bytes of 'É' in UTF-8: only the latin-1 line is reported."""
    text = ("year,origin\n2013,MÉX\n" * 3).encode() + LATIN1
    bad = undecodable_lines(io.BytesIO(text), "utf-8", chunk_size)
    assert [(b.number, b.data) for b in bad] == [(9, "2013,MÉX".encode("latin-1"))]
    assert "can't decode byte 0xc9" in bad[0].reason
    assert undecodable_lines(io.BytesIO(LATIN1), "latin-1", chunk_size) == []


def test_a_last_line_without_newline_is_checked() -> None:
    assert undecodable_lines(io.BytesIO(b"a\nb\n\xff"), "utf-8") == [
        BadLine(3, b"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte")
    ]


def test_a_clean_file_is_read_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "plain.csv").write_text(TEXT)
    located = resolve_location("s", source(tmp_path / "plain.csv"), tmp_path / "cache")
    assert located.paths == (str(tmp_path / "plain.csv"),) and located.undecodable == {}
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("compress", "suffix"), [(gzip.compress, ".gz"), (bz2.compress, ".bz2")])
def test_compressed_files_are_read_through_a_link_named_for_their_codec(tmp_path: Path, compress, suffix: str) -> None:
    (tmp_path / "flights.csv").write_bytes(compress(TEXT.encode()))
    located = resolve_location("s", source(tmp_path / "flights.csv"), tmp_path / "cache")
    read = Path(located.paths[0])
    assert read.suffix == suffix and read.resolve() == (tmp_path / "flights.csv").resolve()
    assert located.location == str(tmp_path / "flights.csv")


def test_a_zip_is_extracted_whatever_its_name(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "flights.csv", "w") as zf:
        zf.writestr("flights.csv", TEXT)
        zf.writestr("__MACOSX/._flights.csv", "junk")
    located = resolve_location("s", source(tmp_path / "flights.csv"), tmp_path / "cache")
    assert [Path(p).read_text() for p in located.paths] == [TEXT]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"source 's': file .*flights\.csv is empty \(0 bytes\)"),
        (gzip.compress(TEXT.encode())[:20], r"source 's': cannot read gzip file .*flights\.csv: .*"),
        (bz2.compress(TEXT.encode())[:20], r"source 's': cannot read bzip2 file .*flights\.csv: .*"),
        (b"PK\x03\x04 not a zip", r"source 's': cannot read zip file .*flights\.csv: .*"),
    ],
)
def test_empty_and_corrupt_files_are_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "flights.csv").write_bytes(content)
    with pytest.raises(SourceError, match=expected):
        resolve_location("s", source(tmp_path / "flights.csv"), tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.partial"))


def test_undecodable_lines_refused_with_file_line_and_encoding(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes(LATIN1)
    with pytest.raises(
        SourceError,
        match=r"source 's': file .*latin1\.csv, line 3, does not decode as utf-8 "
        r"\('utf-8' codec can't decode byte 0xc9 .*\); 1 such line\(s\)",
    ):
        resolve_location("s", source(tmp_path / "latin1.csv", on_parse_error="refuse"), tmp_path / "cache")


def test_undecodable_lines_are_left_out_of_a_copy_made_once(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes(gzip.compress(LATIN1))
    located = resolve_location("s", source(tmp_path / "latin1.csv"), tmp_path / "cache")
    copy = Path(located.paths[0])
    assert copy.read_bytes() == b"year,origin\n2013,EWR\n2013,JFK"
    assert located.undecodable == {
        str(tmp_path / "latin1.csv"): [
            BadLine(
                3,
                "2013,MÉX".encode("latin-1"),
                "'utf-8' codec can't decode byte 0xc9 in position 6: invalid continuation byte",
            )
        ]
    }
    copy.write_bytes(b"kept")  # a second run finds the copy and does not write it again
    assert resolve_location("s", source(tmp_path / "latin1.csv"), tmp_path / "cache").paths == (str(copy),)
    assert copy.read_bytes() == b"kept"


def test_an_undecodable_header_is_refused_even_when_quarantining(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_bytes("année,origin\n2013,EWR\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"header\.csv, line 1, does not decode as utf-8"):
        resolve_location("s", source(tmp_path / "header.csv"), tmp_path / "cache")


def test_the_encoding_must_be_known_and_line_based() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        source(Path("x.csv"), encoding="klingon")
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        source(Path("x.csv"), encoding="utf-16")
    with pytest.raises(ValueError, match="give the source's 'encoding'"):
        source(Path("x.csv"), options={"charset": "latin1"})
