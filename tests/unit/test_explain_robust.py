"""explain on the inputs a new user tried to break it with: closed pipes, full disks, FIFOs,
Ctrl-C, odd text (blank heads, stray NULs, backspaces, CR-only ends, colour codes), very long
lines and contexts, floods of warnings and report headers."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mmfix.explain import engine, explain_file, explain_lines, explain_stream, reader

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "explain"
ARCH_ERROR = b"RuntimeError: CUDA error: no kernel image is available for execution on the device\n"


def _sigint_default() -> None:
    """In the child, before exec: SIGINT as in a terminal (a shell's background job, where CI may run
    these tests, inherits it ignored, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mmfix(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "mmfix", *args], env=env, preexec_fn=_sigint_default,  # type: ignore[call-overload]
                            **kw)


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    logs = [str(CASES / "win-torch16-module-h.log")] * 200
    proc = mmfix("explain", *logs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["explain", str(CASES / "rtx3090-cuda110.log")], ["doctor", "--list"]])
def test_a_full_disk_is_one_line(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        proc = mmfix(*args, stdout=full, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=120)
    lines = [line for line in err.decode().splitlines() if line.startswith("mmfix: error")]
    assert proc.returncode == 1 and lines == ["mmfix: error: cannot write the output: No space left on device"]
    assert "Traceback" not in err.decode()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    data = (CASES / "win-torch16-module-h.log").read_bytes()

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    result = explain_file(fifo)
    writer.join(timeout=10)
    assert result.ids == ["torch-header-constexpr-win-cuda"] and result.bytes_read == len(data)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_while_reading_stdin_is_one_line_and_exit_130(as_json: bool) -> None:
    proc = mmfix("explain", *(["--json"] if as_json else []), "-", stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"[1/9] c++ -c x.cpp\n" * 2000)  # the scan is waiting for the rest of the log
    proc.stdin.flush()
    import time

    time.sleep(1.5)  # let the interpreter start and the scan block on its next read
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert proc.returncode == 130 and lines == ["mmfix: error: interrupted"], err
    assert ('"mmfix.error/1"' in out.decode()) is as_json


@pytest.mark.parametrize(
    "head",
    [b"\n" * 70_000, b" " * 70_000 + b"\n", b"\x00 stray NUL in a banner\n", b"50%\x08\x08\x0860%\x08\x08\x08" * 5000 + b"\n"],
    ids=["blank-lines", "spaces", "one-nul", "backspace-progress"],
)
def test_odd_starts_are_still_text(head: bytes) -> None:
    result = explain_stream(io.BytesIO(head + ARCH_ERROR))
    assert result.ids == ["cuda-arch-not-compiled"]
    assert result.matches[0].line == head.count(b"\n") + 1


def test_blank_only_input_is_no_log() -> None:
    with pytest.raises(reader.NotALog):
        explain_stream(io.BytesIO(b"\n  \n\t\n"))


def test_cr_only_line_ends() -> None:
    data = (CASES / "win-torch16-module-h.log").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    assert reader.sniff(data[:65536]) == "bytes-cr"
    result = explain_stream(io.BytesIO(data))
    lf = explain_stream(io.BytesIO(data.replace(b"\r", b"\n")))
    assert result.ids == lf.ids and result.lines == lf.lines == 35
    assert [m.line for m in result.matches] == [m.line for m in lf.matches]


def test_gcc_colour_codes_are_dropped() -> None:
    line = "x.cpp:1:10: \x1b[01;31m\x1b[Kfatal error: \x1b[m\x1b[Kcusparse.h: No such file or directory"
    assert explain_lines([line]).ids == ["cuda-headers-missing"]
    result = explain_stream(io.BytesIO(line.encode() + b"\n"))
    assert result.ids == ["cuda-headers-missing"] and "\x1b" not in result.matches[0].text


def test_a_flood_of_report_headers_stays_bounded() -> None:
    lines = ["sys.platform: linux"] * 30_000 + [ARCH_ERROR.decode().strip()] + ["noise"] * 500
    scanner = reader.Scanner([k.encode() for k in engine.KEYS], [b"sys.platform", b"PyTorch version"])
    cands = list(scanner.scan(io.BytesIO(("\n".join(lines) + "\n").encode())))
    # the first MAX_REPORTS headers open (extend) a window; later ones are ordinary key lines
    assert sum(1 for c in cands if c.report) == reader.MAX_REPORTS - 1 + reader.REPORT_LINES
    assert len(cands) == 30_001
    result = explain_lines(lines)
    assert "cuda-arch-not-compiled" in result.ids


def test_a_warning_flood_is_remembered_not_rematched(monkeypatch: pytest.MonkeyPatch) -> None:
    warning = "/x/torch/functional.py:504: UserWarning: torch.meshgrid: in an upcoming release, pass indexing."
    m = engine.Matcher()
    for i in range(1, 2001):
        m.feed(reader.Candidate(i, warning))
    assert m._nothing == {warning} and m.groups == {}
    monkeypatch.setattr(engine, "NOTHING_CACHE", 10)
    m = engine.Matcher()
    for i in range(100):
        m.feed(reader.Candidate(i + 1, f"UserWarning: number {i}"))
    assert len(m._nothing) == 10
    m.feed(reader.Candidate(101, ARCH_ERROR.decode().strip()))
    assert [g.sig.id for g in m.groups.values()] == ["cuda-arch-not-compiled"]


def test_long_lines_are_matched_in_windows_around_keys() -> None:
    text = "q" * 100_000 + " RuntimeError: x " + "z" * 100_000 + " fatal: y"
    windows = engine._windows(text)
    assert len(windows) == 2 and all(len(w) <= 4 * engine.WINDOW + 20 for w in windows)
    assert "RuntimeError: x" in windows[0] and "fatal: y" in windows[1]
    crafted = "ValueError: Unknown CUDA arch ( " * 30_000  # quadratic for an unbounded [^)]*
    assert explain_lines([crafted]).ids == []
    line = "p" * 50_000 + " " + ARCH_ERROR.decode().strip()
    result = explain_lines([line])
    assert result.ids == ["cuda-arch-not-compiled"] and len(result.matches[0].text) < 5_000


def test_progress_bars_before_the_first_newline_are_not_cr_only_lines() -> None:
    head = b"".join(b"\r %3d%%|#####| %d/3000" % (i % 100, i) for i in range(3000))
    body = (CASES / "win-torch16-module-h.log").read_bytes()
    want = explain_stream(io.BytesIO(body)).matches[0].line  # the head adds no line: it has no LF
    for data in (head + body, head + body.replace(b"\n", b"\r\n")):
        result = explain_stream(io.BytesIO(data))
        assert result.lines == data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        assert result.matches[0].line == want


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_without_bom_and_utf32(encoding: str) -> None:
    text = (CASES / "rtx3090-cuda110.log").read_text(encoding="utf-8")
    want = explain_lines(text.splitlines())
    result = explain_stream(io.BytesIO(text.encode(encoding)))
    assert result.ids == want.ids and [m.line for m in result.matches] == [m.line for m in want.matches]


def test_closed_stdin_is_no_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "mmfix", "explain"], capture_output=True, env=env, timeout=60,
        preexec_fn=lambda: os.close(0),
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr and b"no log text found" in proc.stderr


def test_names_are_shown_without_terminal_escapes(tmp_path: Path) -> None:
    from mmfix.commands.explain import printable
    from mmfix.errors import UsageError

    assert printable("build.log") == "build.log"
    assert printable("esc\x1b[31mred.log") == "esc\\x1b[31mred.log"
    assert printable(os.fsdecode(b"bad\xff.log")) == "bad\\xff.log"
    loop = tmp_path / "loop.log"
    loop.symlink_to(loop)
    from mmfix.commands import explain as cmd

    with pytest.raises(UsageError) as err:
        cmd._check_readable(str(loop))
    assert "symbolic links" in err.value.one_line()


def test_a_message_across_the_cut_of_a_line_near_max_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reader, "MAX_LINE", 10_000)
    monkeypatch.setattr(reader, "CHUNK", 4096)
    for length in (9_990, 10_000, 10_005, 20_010, 25_000):
        line = b"q" * (length - len(ARCH_ERROR)) + ARCH_ERROR
        log = tmp_path / f"cut{length}.log"
        log.write_bytes(b"noise\n" * 500 + line + b"tail\n")
        result = explain_file(log)
        # the piece that holds the message is matched; the line number stays the line's
        assert [(m.id, m.line) for m in result.matches] == [("cuda-arch-not-compiled", 501)], length
        assert result.lines == 502


def test_a_context_line_longer_than_a_block_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reader, "CHUNK", 4096)
    command = b"[3/77] /usr/local/cuda-11.0/bin/nvcc " + b"-Ifoo " * 15_000 + b"-c x.cu\n"
    log = tmp_path / "ctx.log"
    log.write_bytes(b"noise\n" * 100 + command + b"nvcc fatal   : Unsupported gpu architecture 'compute_86'\n")
    m = explain_file(log).matches[0]
    assert (m.id, m.line, m.facts.get("cuda")) == ("nvcc-arch-unsupported", 102, "11.0")
