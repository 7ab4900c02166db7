"""explain on the inputs a new user tried to break it with: closed pipes, full disks, FIFOs,
early Ctrl-C, odd text (blank heads, stray NULs, backspaces, CR-only ends, colour codes), very
long lines and contexts, floods of warnings and report headers."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mmfix import launch
from mmfix.explain import engine, explain_file, explain_lines, explain_stream, prefilter, reader

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "explain"
ARCH_ERROR = b"RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
posix_grep = pytest.mark.skipif(shutil.which("grep") is None or os.name != "posix", reason="needs grep")


def mmfix(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "mmfix", *args], env=env, **kw)  # type: ignore[call-overload]


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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_prefilter_never_opens_a_fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 0)  # a FIFO's size is 0: only its type may stop it
    got: list[object] = []
    probe = threading.Thread(target=lambda: got.append(prefilter.start(fifo, engine.ANCHORS)), daemon=True)
    probe.start()
    probe.join(timeout=5)
    if probe.is_alive():  # it opened the FIFO and waits for a writer: release it, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("prefilter.start opened a FIFO (its writer's data would be lost)")
    assert got == [None]


def test_an_interrupt_before_the_engine_loads_stops_grep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"[1/9] c++ -c x.cpp\n" * 10_000 + ARCH_ERROR)
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    runs: list[prefilter.GrepRun] = []
    real_start = prefilter.try_start

    def spy(name: str, anchors: object) -> prefilter.GrepRun | None:
        run = real_start(name, anchors)  # type: ignore[arg-type]
        if run is not None:
            runs.append(run)
        return run

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    from mmfix import render

    monkeypatch.setattr(prefilter, "try_start", spy)
    monkeypatch.setattr(render, "configure", interrupt)
    opts = launch.plain_explain(["explain", str(log)])
    assert opts is not None
    assert launch.run_explain(opts) == 130
    if shutil.which("grep") and os.name == "posix":
        assert runs and runs[0]._parts == []  # reaped


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
    assert prefilter.sniff(data[:65536]) == "bytes-cr"
    result = explain_stream(io.BytesIO(data))
    lf = explain_stream(io.BytesIO(data.replace(b"\r", b"\n")))
    assert result.ids == lf.ids and result.lines == lf.lines == 35
    assert [m.line for m in result.matches] == [m.line for m in lf.matches]


def test_gcc_colour_codes_are_dropped() -> None:
    line = "x.cpp:1:10: \x1b[01;31m\x1b[Kfatal error: \x1b[m\x1b[Kcusparse.h: No such file or directory"
    assert explain_lines([line]).ids == ["cuda-headers-missing"]
    result = explain_stream(io.BytesIO(line.encode() + b"\n"))
    assert result.ids == ["cuda-headers-missing"] and "\x1b" not in result.matches[0].text


@posix_grep
def test_an_error_past_max_line_of_a_long_line_is_found_by_grep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(prefilter, "MAX_LINE", 10_000)
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    log = tmp_path / "long.log"
    log.write_bytes(b"noise\n" * 1000 + b"error: " + b"q" * 25_000 + b" " + ARCH_ERROR + b"tail\n")
    result = explain_file(log)
    assert result.ids == ["cuda-arch-not-compiled"] and result.matches[0].line == 1001


@posix_grep
def test_grep_reads_context_lines_longer_than_64_kib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    command = b"[3/77] /usr/local/cuda-11.0/bin/nvcc " + b"-Ifoo " * 15_000 + b"-c x.cu\n"
    log = tmp_path / "ctx.log"
    log.write_bytes(b"noise\n" * 100 + command + b"nvcc fatal   : Unsupported gpu architecture 'compute_86'\n")
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    with_grep = explain_file(log)
    monkeypatch.setenv("MMFIX_NO_GREP", "1")
    without = explain_file(log)
    assert with_grep.matches == without.matches
    assert with_grep.matches[0].facts.get("cuda") == "11.0"


def test_a_flood_of_report_headers_stays_bounded() -> None:
    lines = ["sys.platform: linux"] * 30_000 + [ARCH_ERROR.decode().strip()]
    scanner = reader.LineScanner(engine.ANCHORS_STR, engine.REPORT_ANCHORS_STR)
    cands = list(scanner.scan(lines))
    # the first MAX_REPORTS headers open (extend) a window; later ones are ordinary anchored lines
    assert sum(1 for c in cands if c.report) == reader.MAX_REPORTS - 1 + reader.REPORT_LINES
    chunks = reader.ChunkScanner(engine.ANCHORS, engine.REPORT_ANCHORS)
    data = ("\n".join(lines) + "\n").encode()
    assert [(c.line, c.report) for c in chunks.scan(io.BytesIO(data))] == [(c.line, c.report) for c in cands]
    result = explain_lines(lines)
    assert "cuda-arch-not-compiled" in result.ids


def test_a_warning_flood_is_remembered_not_rematched(monkeypatch: pytest.MonkeyPatch) -> None:
    warning = "/x/torch/functional.py:504: UserWarning: torch.meshgrid: in an upcoming release, pass indexing."
    m = engine.Matcher()
    for i in range(1, 2001):
        m.feed(reader.Candidate(i, warning))
    assert m._nothing == {warning}
    monkeypatch.setattr(engine, "NOTHING_CACHE", 10)
    m = engine.Matcher()
    for i in range(100):
        m.feed(reader.Candidate(i + 1, f"UserWarning: number {i}"))
    assert len(m._nothing) == 10
    m.feed(reader.Candidate(101, ARCH_ERROR.decode().strip()))
    assert [g.sig.id for g in m.groups.values()] == ["cuda-arch-not-compiled"]


@posix_grep
def test_a_ctrl_c_while_spawning_reaps_every_grep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import signal

    log = tmp_path / "big.log"
    log.write_bytes(b"[1/9] c++ -c x.cpp\n" * 20_000 + ARCH_ERROR)
    run = prefilter.GrepRun(str(log), engine.ANCHORS, parts=3)
    real = prefilter.GrepRun._spawn
    pids: list[int] = []

    def spawn_then_interrupt(self: prefilter.GrepRun, *args: object) -> object:
        part = real(self, *args)  # type: ignore[arg-type]
        pids.append(part.pid)
        # at this thread (pytest may keep other threads, which would take a process-wide signal)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)  # held back till all are recorded
        return part

    monkeypatch.setattr(prefilter.GrepRun, "_spawn", spawn_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run.start()
    assert len(pids) == 3 and run._parts == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit is Linux's")
def test_grep_gets_a_memory_cap() -> None:
    import resource

    proc = subprocess.Popen(["sleep", "5"])
    try:
        prefilter._cap_memory(proc.pid)
        assert resource.prlimit(proc.pid, resource.RLIMIT_AS) == (prefilter.GREP_MEMORY, prefilter.GREP_MEMORY)
    finally:
        proc.kill()
        proc.wait()


def test_long_lines_are_matched_in_windows_around_anchors() -> None:
    text = "q" * 100_000 + " RuntimeError: x " + "z" * 100_000 + " fatal: y"
    windows = engine._anchor_windows(text)
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


@posix_grep
def test_a_message_across_the_cut_of_a_line_near_max_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(prefilter, "MAX_LINE", 10_000)
    monkeypatch.setattr(prefilter, "GREP_MIN_BYTES", 1)
    for length in (9_990, 10_000, 10_005, 20_010):
        line = b"q" * (length - len(ARCH_ERROR)) + ARCH_ERROR
        log = tmp_path / f"cut{length}.log"
        log.write_bytes(b"noise\n" * 500 + line + b"tail\n")
        assert explain_file(log).ids == ["cuda-arch-not-compiled"], length
