"""Config lint on mmdet 2.x / 3.x style configs with _base_ inheritance (tests/data/compat/configs),
parsed with ast and never executed; the F checks and registry-missing-module on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmfix import config_lint, registry_scan
from mmfix.checks import config as cfgchecks
from mmfix.checks.base import CheckContext
from mmfix.config_lint import Opaque, load_config, merge
from mmfix.errors import UsageError
from mmfix.model import Downstream, Environment, Finding, Host, MmcvDist, Status, TargetPython

DATA = Path(__file__).resolve().parents[1] / "data" / "compat"
MMDET2 = DATA / "configs" / "mmdet2"
MMDET3 = DATA / "configs" / "mmdet3"
SITE1 = DATA / "site1"


def run(check_id: str, env: Environment, config: Path | None) -> Finding:
    [c] = [c for c in cfgchecks.CHECKS if c.id == check_id]
    return c.run(CheckContext(env, str(config) if config else None))


def bare_env() -> Environment:
    return Environment(TargetPython("/usr/bin/python3", "3.8.18"), Host("Linux"))


def site_env(site: Path) -> Environment:
    mmcv = MmcvDist("mmcv-full", "1.7.2", str(site), str(site / "mmcv"), "cp38-cp38-linux_x86_64",
                    ext_files=(str(site / "mmcv" / "_ext.so"),))
    mmdet = Downstream("mmdet", "2.28.2", str(site), str(site / "mmdet" / "__init__.py"),
                       "1.3.17", "1.8.0", True)
    return Environment(TargetPython("/usr/bin/python3", "3.8.18", site_packages=(str(site),)),
                       Host("Linux"), mmcv=(mmcv,), downstream=(mmdet,))


# --- parsing and merging -----------------------------------------------------------------------


def test_mmdet2_base_list_is_merged_in_order() -> None:
    cfg = load_config(MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py")
    assert len(cfg.files) == 5
    assert cfg.get("model")["roi_head"]["bbox_head"]["num_classes"] == 80
    # names and arithmetic across a file: data_root + '...'
    assert cfg.get("data")["train"]["ann_file"] == "data/coco/annotations/instances_train2017.json"
    # **img_norm_cfg inside dict(...)
    assert cfg.get("data")["train"]["pipeline"][4]["mean"] == [123.675, 116.28, 103.53]
    assert cfg.get("optimizer_config") == {"grad_clip": None}
    assert cfg.style == "mmcv"


def test_child_overrides_with_delete_and_string_base() -> None:
    cfg = load_config(MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py")
    assert cfg.get("optimizer") == {"type": "AdamW", "lr": 0.0001, "weight_decay": 0.05}
    head = cfg.get("model")["roi_head"]["bbox_head"]
    assert head["type"] == "MyBBoxHead" and head["num_classes"] == 3
    assert head["fc_out_channels"] == 1024  # merged, not replaced
    assert cfg.get("data")["samples_per_gpu"] == 1 and cfg.get("data")["workers_per_gpu"] == 2
    assert [h["type"] for h in cfg.get("custom_hooks")] == [
        "NumClassCheckHook", "GradientCumulativeOptimizerHook"]  # lists replace


def test_mmdet3_config_and_opaque_comprehension() -> None:
    cfg = load_config(MMDET3 / "configs/retinanet/retinanet_r50_fpn_user.py")
    assert cfg.style == "mmengine"
    assert cfg.get("optim_wrapper") == {
        "type": "OptimWrapper",
        "optimizer": {"type": "AdamW", "lr": 0.0001, "weight_decay": 0.05},
        "clip_grad": {"max_norm": 35, "norm_type": 2},
    }
    assert cfg.get("model")["bbox_head"]["loss_cls"] == {
        "type": "FocalLoss", "use_sigmoid": True, "gamma": 1.5, "alpha": 0.25, "loss_weight": 1.0}
    assert cfg.get("train_dataloader")["dataset"]["data_root"] == "data/mine/"
    dataset = cfg.get("train_dataloader")["dataset"]
    assert dataset["ann_file"] == "annotations/instances_train2017.json"
    assert cfg.get("test_dataloader") == cfg.get("val_dataloader")
    first_aug = cfg.get("tta_pipeline")[1]["transforms"][0]
    assert isinstance(first_aug, Opaque) and "for s in img_scales" in first_aug.source


def test_merge_rules() -> None:
    base = {"a": {"x": 1, "y": {"z": 2}}, "l": [1, 2]}
    merged = merge(base, {"a": {"y": {"w": 3}}})
    assert merged == {"a": {"x": 1, "y": {"z": 2, "w": 3}}, "l": [1, 2]}
    assert merge(base, {"a": {"_delete_": True, "q": 1}}) == {"a": {"q": 1}, "l": [1, 2]}
    assert merge(base, {"l": [3]})["l"] == [3]


def test_base_references_and_read_base(tmp_path: Path) -> None:
    (tmp_path / "base.py").write_text("lr = 0.1\nmodel = dict(type='A', depth=50)\n")
    (tmp_path / "old.py").write_text(
        "_base_ = './base.py'\noptimizer = dict(lr='{{_base_.lr}}')\ndepth = _base_.model.depth\n")
    cfg = load_config(tmp_path / "old.py")
    assert cfg.get("optimizer") == {"lr": 0.1} and cfg.get("depth") == 50
    (tmp_path / "new.py").write_text(
        "from mmengine.config import read_base\nwith read_base():\n    from .base import *\n"
        "model.update(dict(depth=101))\nmodel.depth = 18\n")
    cfg = load_config(tmp_path / "new.py")
    assert cfg.get("model") == {"type": "A", "depth": 18} and cfg.get("lr") == 0.1


def test_json_and_yaml_bases(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text('{"model": {"type": "A", "depth": 50}}')
    (tmp_path / "b.yaml").write_text("model:\n  depth: 18\n")
    (tmp_path / "c.py").write_text("_base_ = ['./b.json', './b.yaml']\nmodel = dict(neck=None)\n")
    cfg = load_config(tmp_path / "c.py")
    assert cfg.get("model") == {"type": "A", "depth": 50, "neck": None}
    assert cfg.skipped == [str(tmp_path / "b.yaml")]
    (tmp_path / "bad.json").write_text("[1]")
    (tmp_path / "d.py").write_text("_base_ = './bad.json'\n")
    with pytest.raises(UsageError, match="not a JSON object"):
        load_config(tmp_path / "d.py")


def test_bad_configs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "missing.py")
    (tmp_path / "bad.py").write_text("model = dict(\n")
    with pytest.raises(UsageError, match="not valid Python") as exc:
        load_config(tmp_path / "bad.py")
    assert exc.value.exit_code == 2
    (tmp_path / "nul.py").write_bytes(b"model = 1\x00\n")  # a file saved as binary
    with pytest.raises(UsageError, match="not valid Python") as exc:
        load_config(tmp_path / "nul.py")
    assert "None" not in exc.value.one_line() and "null bytes" in exc.value.one_line()
    (tmp_path / "a.py").write_text("_base_ = './b.py'\n")
    (tmp_path / "b.py").write_text("_base_ = './a.py'\n")
    with pytest.raises(UsageError, match="inherits from itself"):
        load_config(tmp_path / "a.py")
    (tmp_path / "c.py").write_text("_base_ = ['./nope.py']\n")
    with pytest.raises(UsageError, match="_base_"):
        load_config(tmp_path / "c.py")


def test_never_executes(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\nx = open('/etc/passwd')\n")
    cfg = load_config(tmp_path / "evil.py")
    assert not marker.exists() and isinstance(cfg.get("x"), Opaque)


def test_walk_types_locations() -> None:
    cfg = load_config(MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py")
    types = dict(config_lint.walk_types(cfg.data))
    assert types["MyBBoxHead" if "MyBBoxHead" in types else "Shared2FCBBoxHead"] == \
        "model.roi_head.bbox_head"
    assert types["nms"].startswith("model.test_cfg")


# --- the F checks ------------------------------------------------------------------------------


def test_checks_skip_without_config() -> None:
    for c in cfgchecks.CHECKS:
        f = c.run(CheckContext(bare_env()))
        assert f.status is Status.SKIP and f.evidence == ("no --config given",)


def test_broken_config_is_a_fail_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("model = dict(\n")
    f = run("ddp-unused-parameters", bare_env(), tmp_path / "bad.py")
    assert f.status is Status.FAIL and "not valid Python" in f.evidence[0]


def test_double_backward_hooks_mmcv_style() -> None:
    bad = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py"
    f = run("double-backward-hooks", bare_env(), bad)
    assert f.status is Status.FAIL
    assert f.fix == ("optimizer_config = dict(type='GradientCumulativeOptimizerHook', "
                     "cumulative_iters=4, grad_clip=None) and remove the hook from custom_hooks")
    good = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_custom_fixed.py"
    assert run("double-backward-hooks", bare_env(), good).status is Status.OK
    plain = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py"
    assert run("double-backward-hooks", bare_env(), plain).status is Status.OK


def test_double_backward_hooks_mmengine_style() -> None:
    user = MMDET3 / "configs/retinanet/retinanet_r50_fpn_user.py"
    f = run("double-backward-hooks", bare_env(), user)
    assert f.status is Status.FAIL
    assert "accumulative_counts=2" in (f.fix or "")


def test_ddp_unused_parameters() -> None:
    stock = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py"
    f = run("ddp-unused-parameters", bare_env(), stock)
    assert f.status is Status.WARN and f.fix.startswith("find_unused_parameters = True")
    good = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_custom_fixed.py"
    assert run("ddp-unused-parameters", bare_env(), good).status is Status.OK


def test_ddp_unused_parameters_in_model_wrapper_cfg(tmp_path: Path) -> None:
    (tmp_path / "c.py").write_text(
        "model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)\n")
    assert run("ddp-unused-parameters", bare_env(), tmp_path / "c.py").status is Status.OK


# --- registry-missing-module -------------------------------------------------------------------


def test_static_registration_shapes() -> None:
    names = registry_scan.names_in_file(SITE1 / "mmcv" / "cnn" / "bricks.py")
    assert {"BN", "GN", "Conv", "ReLU", "Tanh", "Pretrained"} <= names
    assert "PretrainedInit" not in names  # registered under its given name
    src = "@R.register_module(name=['A', 'B'])\nclass C: pass\n@R.register_module\nclass D: pass\n"
    assert registry_scan.names_in_source(src) == {"A", "B", "D"}
    assert registry_scan.ops_names(SITE1 / "mmcv") == {"nms", "soft_nms", "batched_nms", "RoIAlign",
                                                       "roi_align"}


def test_registry_all_registered_for_the_stock_config(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py"
    f = run("registry-missing-module", site_env(SITE1), cfg)
    assert f.status is Status.OK, f.evidence
    assert f.family == "F"  # catalog row A, shown with the config checks


def test_registry_missing_project_head_suggests_custom_imports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    f = run("registry-missing-module", site_env(SITE1),
            MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py")
    assert f.status is Status.FAIL
    assert f.facts["missing"] == ["MyBBoxHead"]
    assert f.fix == ("custom_imports = dict(imports=['projects.my_head.my_bbox_head'], "
                     "allow_failed_imports=False)")
    fixed = run("registry-missing-module", site_env(SITE1),
                MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_custom_fixed.py")
    assert fixed.status is Status.OK, fixed.evidence


def test_registry_custom_import_that_does_not_exist(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.py").write_text(
        "custom_imports = dict(imports=['projects.nowhere'], allow_failed_imports=False)\n"
        "model = dict(type='FasterRCNN')\n")
    f = run("registry-missing-module", site_env(SITE1), tmp_path / "c.py")
    assert f.status is Status.FAIL
    assert "custom_imports module 'projects.nowhere' not found" in f.evidence[0]


def test_registry_installed_package_shadows_project_tree(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    """The project's own ./mmdet registers a head the installed (site-packages) mmdet lacks."""
    project = tmp_path / "proj"
    shutil.copytree(MMDET2 / "configs", project / "configs")
    head = project / "mmdet" / "models" / "my_head.py"
    head.parent.mkdir(parents=True)
    head.write_text("@HEADS.register_module()\nclass MyBBoxHead:\n    pass\n")
    monkeypatch.chdir(project)
    f = run("registry-missing-module", site_env(SITE1),
            project / "configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py")
    assert f.status is Status.FAIL
    assert f.fix == f"pip install -e {project} (the installed mmdet shadows the project's copy)"


def test_registry_warns_when_nothing_installed_to_scan(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = MMDET2 / "configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py"
    assert run("registry-missing-module", bare_env(), cfg).status is Status.SKIP


def test_registry_without_mmcv_and_mmengine_is_only_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """mmdet 3.x config, only mmdet installed: mmengine's loops and hooks cannot be looked up."""
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site"
    shutil.copytree(SITE1 / "mmdet", site / "mmdet")
    env = site_env(site)
    env = Environment(env.target, env.host, downstream=env.downstream)  # no mmcv
    f = run("registry-missing-module", env, MMDET3 / "configs/retinanet/retinanet_r50_fpn_1x_coco.py")
    assert f.status is Status.WARN
    assert f.evidence[0].startswith("mmcv and mmengine not installed")
    assert "EpochBasedTrainLoop" in f.facts["missing"]
    assert any(e.startswith("... and ") for e in f.evidence)
    assert f.fix.startswith("install mmcv and mmengine first")
