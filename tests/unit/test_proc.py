from __future__ import annotations

import os
import time

import pytest

from mmfix import proc


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nsleep 300\n")
    script.chmod(0o755)
    res = proc.run([str(script)], timeout=1)
    assert res.timed_out and res.returncode is None
    pid = int(pidfile.read_text())
    for _ in range(50):  # the kill is asynchronous: give the kernel a moment to reap
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail("the grandchild outlived the timeout")


def test_missing_program_and_exit_codes_are_facts():
    assert proc.run(["/no/such/program"]).start_error
    res = proc.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")


def test_undecodable_output_never_raises():
    res = proc.run(["printf", "\\377\\376abc"])
    assert res.ok and "abc" in res.stdout
