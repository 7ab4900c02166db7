"""The streaming reader: chunk boundaries, encodings, line endings, binary junk, long lines."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfix.explain import NotALog, explain_lines, explain_stream, prefilter, reader
from mmfix.explain.engine import REPORT_ANCHORS, REPORT_ANCHORS_STR
from mmfix.explain.signatures import ANCHORS, ANCHORS_STR

POOL = [
    "[3/77] /usr/local/cuda-11.8/bin/nvcc -DMMCV_WITH_CUDA -c x.cu -gencode=arch=compute_86,code=sm_86",
    "x.hpp:276: warning: ignoring '#pragma unroll ' [-Wunknown-pragmas]",
    "nvcc fatal   : Unsupported gpu architecture 'compute_86'",
    "ninja: build stopped: subcommand failed.",
    "RuntimeError: Error compiling objects for extension",
    "sys.platform: linux",
    "PyTorch: 1.10.0+cu113",
    "GPU 0: Tesla V100-SXM2-32GB",
    "",
    "      running build_ext",
    "注意: 包含文件:  C:\\CUDA\\v9.2\\include\\cuda_runtime.h",
]


def chunk_candidates(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list[reader.Candidate]:
    monkeypatch.setattr(reader, "CHUNK", chunk)
    scanner = reader.ChunkScanner(ANCHORS, REPORT_ANCHORS)
    return list(scanner.scan(io.BytesIO(data)))


def line_candidates(lines: list[str]) -> list[reader.Candidate]:
    return list(reader.LineScanner(ANCHORS_STR, REPORT_ANCHORS_STR).scan(lines))


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=400),
    chunk=st.sampled_from([7, 64, 1000, 1 << 20]),
    crlf=st.booleans(),
)
def test_chunked_scan_equals_line_scan(picks: list[int], chunk: int, crlf: bool) -> None:
    lines = [POOL[i] for i in picks]
    eol = "\r\n" if crlf else "\n"
    data = eol.join(lines).encode("utf-8") + eol.encode()
    with pytest.MonkeyPatch.context() as mp:
        got = chunk_candidates(data, chunk, mp)
    want = line_candidates(lines)
    assert [(c.line, c.text, c.report, c.anchor) for c in got] == [(c.line, c.text, c.report, c.anchor) for c in want]
    for g, w in zip(got, want):
        assert w.before[len(w.before) - len(g.before) :] == g.before


def test_line_numbers_count_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"a\n" * 5000 + b"nvcc fatal   : Unsupported gpu architecture 'compute_90'\n" + b"b\n" * 10
    cands = chunk_candidates(data, 4096, monkeypatch)
    assert [(c.line, c.anchor) for c in cands] == [(5001, True)]
    assert cands[0].before == ("a",) * reader.BEFORE_LINES


def test_last_line_without_newline_is_read() -> None:
    result = explain_stream(io.BytesIO(b"x\nRuntimeError: nms is not compiled with GPU support"))
    assert result.ids == ["ops-cpu-only"]
    assert result.matches[0].line == 2
    assert result.lines == 2


def test_decode_line_fallbacks() -> None:
    assert reader.decode_line("é".encode()) == "é"
    assert reader.decode_line("注意: 包含文件".encode("cp936")) == "注意: 包含文件"
    assert reader.decode_line(b"caf\xe9 \x81") == "caf\u00e9 \ufffd"  # cp1252 with a replacement


def test_utf16_powershell_log_is_read() -> None:
    text = "Building wheel\r\nnvcc fatal   : Unsupported gpu architecture 'compute_89'\r\n"
    data = text.encode("utf-16")  # with BOM, as PowerShell's > writes it
    result = explain_stream(io.BytesIO(data))
    assert result.ids == ["nvcc-arch-unsupported"]
    assert result.matches[0].line == 2


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t", os.urandom(200_000), b"\x00\x01\x02" * 1000])
def test_not_a_log(data: bytes) -> None:
    with pytest.raises(NotALog):
        explain_stream(io.BytesIO(data))


def test_gbk_text_is_not_mistaken_for_binary() -> None:
    data = ("构建失败\r\n" * 2000).encode("gbk") + b"RuntimeError: nms is not compiled with GPU support\r\n"
    assert explain_stream(io.BytesIO(data)).ids == ["ops-cpu-only"]


def test_a_log_without_newlines_is_cut_not_slurped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "MAX_LINE", 10_000)
    data = b"x" * 50_000 + b" nvcc fatal   : Unsupported gpu architecture 'compute_75'" + b"y" * 50_000
    cands = chunk_candidates(data, 4096, monkeypatch)
    assert any("compute_75" in c.text for c in cands)
    assert all(len(c.text) <= 20_000 for c in cands)
    # the line after the monster line is line 2
    data += b"\nRuntimeError: nms is not compiled with GPU support\n"
    cands = chunk_candidates(data, 4096, monkeypatch)
    assert [c.line for c in cands if "nms" in c.text] == [2]


def test_report_window_continues_into_the_next_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["noise"] * 50 + [
        "sys.platform: linux",
        "Python: 3.8.10",
        "PyTorch: 1.10.0+cu113",
        "MMCV: 1.3.7",
        "MMCV CUDA Compiler: not available",
    ]
    data = ("\n".join(lines) + "\n").encode()
    cands = chunk_candidates(data, 320, monkeypatch)
    assert [c.text for c in cands if c.report] == lines[51:]


def test_explain_lines_accepts_text_with_embedded_newlines() -> None:
    text = "a\nb\nnvcc fatal   : Unsupported gpu architecture 'compute_86'\n"
    result = explain_lines([text])
    assert result.matches[0].line == 3


grep_only = pytest.mark.skipif(shutil.which("grep") is None or os.name != "posix", reason="no grep on PATH")


@grep_only
@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=600),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    parts=st.integers(1, 5),
)
def test_grep_scan_equals_chunk_scan(picks: list[int], crlf: bool, final_newline: bool, parts: int) -> None:
    import tempfile

    lines = [POOL[i] for i in picks]
    eol = "\r\n" if crlf else "\n"
    data = eol.join(lines).encode("utf-8") + (eol.encode() if final_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "build.log")
        with open(path, "wb") as fh:
            fh.write(data)
        scanner, cands = reader.grep_candidates(path, ANCHORS, REPORT_ANCHORS, parts=parts)
        got = [(c.line, c.text, c.report, c.anchor, c.before) for c in cands]
        lines_read = scanner.lines_read
    chunks = reader.ChunkScanner(ANCHORS, REPORT_ANCHORS)
    want = [(c.line, c.text, c.report, c.anchor, c.before) for c in chunks.scan(io.BytesIO(data))]
    assert got == want
    assert lines_read == chunks.lines_read if parts == 1 else lines_read in (None, chunks.lines_read)


@grep_only
def test_explain_file_uses_grep_for_big_files_with_the_same_result(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from mmfix.explain import explain_file

    case = Path(__file__).resolve().parents[1] / "data" / "explain" / "nms-cpu-only-docker.log"
    path = Path(str(tmp_path)) / "big.log"
    path.write_bytes(b"[1/2] c++ -c x.cpp -o x.o\n" * 20_000 + case.read_bytes())
    calls: list[str] = []
    real = reader.GrepScanner.scan

    def spy(self):  # type: ignore[no-untyped-def]
        calls.append(self.run.path)
        return real(self)

    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    monkeypatch.setattr(reader.GrepScanner, "scan", spy)
    with_grep = explain_file(path)
    assert calls == [str(path)]
    monkeypatch.setenv("MMFIX_NO_GREP", "1")
    without = explain_file(path)
    assert with_grep.ids == without.ids == ["ops-cpu-only"]
    assert with_grep.matches == without.matches
    assert without.lines == with_grep.lines == 20_025
    assert with_grep.bytes_read == without.bytes_read == path.stat().st_size
    assert with_grep.environment == without.environment


@grep_only
def test_grep_scan_cuts_a_monster_line(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.setattr(prefilter, "MAX_LINE", 10_000)
    path = Path(str(tmp_path)) / "one-line.log"
    path.write_bytes(b"error " + b"x" * 100_000 + b"\nnvcc fatal   : Unsupported gpu architecture 'compute_90'\n")
    _, found = reader.grep_candidates(str(path), ANCHORS, REPORT_ANCHORS)
    cands = list(found)
    assert [c.line for c in cands] == [1, 2]
    assert len(cands[0].text) < 10_000 + 64  # MAX_LINE, and room for grep's "N:OFFSET:" prefix
    assert "compute_90" in cands[1].text


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 300), min_size=1, max_size=40),
    parts=st.integers(1, 9),
    final_newline=st.booleans(),
)
def test_split_points_start_lines_in_order(lengths: list[int], parts: int, final_newline: bool) -> None:
    data = b"\n".join(b"x" * n for n in lengths) + (b"\n" if final_newline else b"")
    starts = prefilter.split_points(io.BytesIO(data), len(data), parts)
    assert starts[0] == 0 and len(starts) <= parts
    assert starts == sorted(set(starts))
    assert all(0 < s < len(data) and data[s - 1 : s] == b"\n" for s in starts[1:])


def test_split_points_keep_one_long_line_whole() -> None:
    data = b"y" * 10_000 + b"\nshort\n"
    assert prefilter.split_points(io.BytesIO(data), len(data), 4) == [0, 10_001]


@grep_only
def test_a_report_across_part_boundaries_is_whole(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    report = ["sys.platform: linux", "Python: 3.8.10", "PyTorch: 1.10.0+cu113", "MMCV: 1.3.7"]
    lines = [f"[{i}/900] c++ -c x{i}.cpp" for i in range(300)] + report + [f"tail {i}" for i in range(300)]
    path = Path(str(tmp_path)) / "report.log"
    data = ("\r\n".join(lines) + "\r\n").encode()
    path.write_bytes(data)
    for parts in (1, 2, 3, 7):
        scanner, found = reader.grep_candidates(str(path), ANCHORS, REPORT_ANCHORS, parts=parts)
        cands = list(found)
        assert [c.line for c in cands if c.anchor] == [301]
        assert [c.text for c in cands if c.report] == report[1:] + [f"tail {i}" for i in range(200 - 3)]
        assert scanner.lines_read == (604 if parts == 1 else None)
        assert cands[0].before == tuple(lines[292:300])


def fake_grep(tmp_path: object, body: str) -> str:
    from pathlib import Path

    script = Path(str(tmp_path)) / "grep"
    script.write_text('#!/bin/sh\n: > "$0.ran"\n' + body + "\n")
    script.chmod(0o755)
    return str(script)


@grep_only
@pytest.mark.parametrize(
    "body",
    [
        "cat >/dev/null; echo 'grep: memory exhausted' >&2; exit 2",  # grep fails
        "cat >/dev/null; echo 'not grep -n -b output'; exit 0",  # odd output
        "cat >/dev/null; exit 1",  # no end-of-part line: the input never reached grep
        "exit 0",  # stops reading at once (the feeder sees EPIPE)
    ],
)
def test_a_failing_grep_falls_back_to_the_python_scan(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    from pathlib import Path

    from mmfix.explain import explain_file

    case = Path(__file__).resolve().parents[1] / "data" / "explain" / "nms-cpu-only-docker.log"
    path = Path(str(tmp_path)) / "big.log"
    path.write_bytes(b"[1/2] c++ -c x.cpp -o x.o\n" * 5_000 + case.read_bytes())
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    monkeypatch.setattr(prefilter, "find_grep", lambda: fake_grep(tmp_path, body))
    result = explain_file(path)
    assert (Path(str(tmp_path)) / "grep.ran").exists()
    assert result.ids == ["ops-cpu-only"]
    assert result.lines == 5_025


@grep_only
def test_closing_a_scan_early_stops_its_grep_processes(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "errors.log"
    path.write_bytes(b"error: x\n" * 50_000)
    scanner, it = reader.grep_candidates(str(path), ANCHORS, REPORT_ANCHORS, parts=3)
    pids = [p.pid for p in scanner.run._parts]
    assert len(pids) == 3
    assert next(it).line == 1
    it.close()
    assert scanner.run._parts == []
    for pid in pids:  # reaped: no such child any more
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
