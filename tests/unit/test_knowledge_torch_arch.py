"""knowledge.torch_arch: the rows the audit found wrong, as read from the real cpp_extension.py of each
torch release (the full comparison, every release 1.3.0 to the newest, is
tests/e2e/test_knowledge_artifacts_torch.py)."""

from __future__ import annotations

import pytest

from mmfix.knowledge.torch_arch import named_arches, supported_arches


@pytest.mark.parametrize("torch", ["1.12.1", "1.13.1", "2.0.1"])
def test_tegra_names_and_8_7_are_not_known_before_2_1(torch):
    assert "Volta+Tegra" not in named_arches(torch)
    assert "Ampere+Tegra" not in named_arches(torch)
    assert "8.7" not in supported_arches(torch)


def test_2_1_knows_tegra_but_not_9_0a_which_2_2_adds():
    assert named_arches("2.1.2")["Ampere+Tegra"] == "8.7"
    assert "9.0a" not in supported_arches("2.1.2")
    assert "9.0a" in supported_arches("2.2.0")


def test_2_6_has_only_blackwell_10_0():
    assert named_arches("2.6.0")["Blackwell"] == "10.0+PTX"
    assert "Blackwell+Tegra" not in named_arches("2.6.0")
    assert supported_arches("2.6.0")[-1] == "10.0"


def test_2_7_adds_10_1_and_12_0_and_2_8_adds_10_3_and_12_1():
    assert named_arches("2.7.1")["Blackwell"] == "10.0;12.0+PTX"
    assert "10.3" not in supported_arches("2.7.1")
    assert {"10.3", "10.3a", "12.1", "12.1a", "10.1"} <= set(supported_arches("2.8.0"))
    assert named_arches("2.8.0")["Blackwell+Tegra"] == "10.1"


def test_2_9_renames_thor_to_11_0():
    assert named_arches("2.9.0")["Blackwell+Tegra"] == "11.0"
    assert "10.1" not in supported_arches("2.9.0")
