"""The streaming reader: block boundaries, context lines, encodings, line endings, binary junk,
long lines. The scan is compared with a plain line-by-line reference of the same selection."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfix.explain import NotALog, explain_lines, explain_stream, reader
from mmfix.explain.engine import KEYS
from mmfix.explain.rules import REPORT_STARTS

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
    'member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized',
]
BKEYS = [k.encode() for k in KEYS]
BSTARTS = [s.encode() for s in REPORT_STARTS]


def scan(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch) -> tuple[reader.Scanner, list[reader.Candidate]]:
    monkeypatch.setattr(reader, "CHUNK", chunk)
    scanner = reader.Scanner(BKEYS, BSTARTS)
    return scanner, list(scanner.scan(io.BytesIO(data)))


def reference(lines: list[str]) -> list[tuple[int, str, bool, bool, tuple[str, ...], str]]:
    """The selection, line by line: key lines with their context, and report windows."""
    out = []
    window = reports = 0
    for i, line in enumerate(lines):
        key = any(k in line for k in KEYS)
        in_window = window > 0
        if key or in_window:
            before = tuple(lines[max(0, i - reader.BEFORE_LINES) : i]) if key else ()
            after = (lines[i + 1] if i + 1 < len(lines) else "") if key else ""
            out.append((i + 1, line, in_window, key, before, after))
        window = max(0, window - 1)
        if reports < reader.MAX_REPORTS and any(s in line for s in REPORT_STARTS):
            reports += 1
            window = reader.REPORT_LINES
    return out


def as_tuples(cands: list[reader.Candidate]) -> list[tuple[int, str, bool, bool, tuple[str, ...], str]]:
    return [(c.line, c.text, c.report, c.key, c.before, c.after) for c in cands]


@settings(max_examples=80, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=400),
    chunk=st.sampled_from([7, 64, 1000, 1 << 20]),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
def test_the_block_scan_selects_what_a_line_by_line_reading_selects(picks: list[int], chunk: int, crlf: bool,
                                                                   final_newline: bool) -> None:
    lines = [POOL[i] for i in picks]
    eol = "\r\n" if crlf else "\n"
    data = eol.join(lines).encode("utf-8") + (eol.encode() if final_newline else b"")
    with pytest.MonkeyPatch.context() as mp:
        scanner, got = scan(data, chunk, mp)
    read = data.decode("utf-8").replace("\r\n", "\n").split("\n")  # the lines as a reader sees them
    read = read[:-1] if read[-1] == "" else read
    assert as_tuples(got) == reference(read)
    assert scanner.lines_read == len(read) and scanner.bytes_read == len(data)


def test_line_numbers_count_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"a\n" * 5000 + b"nvcc fatal   : Unsupported gpu architecture 'compute_90'\n" + b"b\n" * 10
    _, cands = scan(data, 4096, monkeypatch)
    assert [(c.line, c.key, c.after) for c in cands] == [(5001, True, "b")]
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
    result = explain_stream(io.BytesIO(text.encode("utf-16")))  # with BOM, as PowerShell's > writes it
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
    monkeypatch.setattr(reader, "MAX_LINE", 10_000)
    data = b"x" * 50_000 + b" nvcc fatal   : Unsupported gpu architecture 'compute_75'" + b"y" * 50_000
    _, cands = scan(data, 4096, monkeypatch)
    assert any("compute_75" in c.text for c in cands)
    assert all(len(c.text) <= 10_000 for c in cands)
    data += b"\nRuntimeError: nms is not compiled with GPU support\n"  # the line after it is line 2
    scanner, cands = scan(data, 4096, monkeypatch)
    assert [c.line for c in cands if "nms" in c.text] == [2] and scanner.lines_read == 2


def test_report_window_continues_into_the_next_block(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["noise"] * 50 + ["sys.platform: linux", "Python: 3.8.10", "PyTorch: 1.10.0+cu113", "MMCV: 1.3.7",
                              "MMCV CUDA Compiler: not available"]
    _, cands = scan(("\n".join(lines) + "\n").encode(), 320, monkeypatch)
    assert [c.text for c in cands if c.report] == lines[51:]


def test_text_lines_are_scanned_like_bytes() -> None:
    text = "a\nb\nnvcc fatal   : Unsupported gpu architecture 'compute_86'\n"
    assert explain_lines([text]).matches[0].line == 3  # embedded newlines split it
    assert explain_lines(["x\r\n", "nvcc fatal   : Unsupported gpu architecture 'compute_86'\r\n"]).matches[0].line == 2
    assert explain_lines([]).ids == [] and explain_lines(["", "  "]).lines == 0
