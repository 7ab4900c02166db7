"""knowledge.msvc: the VS release -> _MSC_VER table explain reads is derived from the toolset series
(the real host_config.h C1189 messages are compared in tests/e2e/test_knowledge_artifacts_cuda.py)."""

from __future__ import annotations

from mmfix.explain.facts import derive
from mmfix.explain.signatures import BY_ID
from mmfix.knowledge.msvc import TOOLSET_SERIES, VS_MSC_MAX


def test_vs_msc_max_is_the_newest_series_of_each_release():
    for s in TOOLSET_SERIES:
        assert VS_MSC_MAX[int(s.vs)] >= s.msc_max
    assert (VS_MSC_MAX[2017], VS_MSC_MAX[2019], VS_MSC_MAX[2022]) == (1916, 1929, 1949)
    assert VS_MSC_MAX[2013] == 1800


def test_explain_reads_the_same_table():
    line = ("fatal error C1189: #error:  -- unsupported Microsoft Visual Studio version! Only the versions "
            "between 2019 and 2026 (inclusive) are supported!")
    facts = derive(BY_ID["msvc-unsupported"], {"supported": "2019 and 2026"}, line)
    assert facts["msc_max"] == VS_MSC_MAX[2026] == 1959
