"""Windows developer shells: the probe and the MSVC build plan on recorded tool output (Linux).

Every machine access is faked from tests/data/windows (vswhere JSON, cl banners in English and in
cp936 Chinese, vcvarsall `set` dumps, nvcc --version); the code under test is the real one.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import pytest

from mmfix import proc
from mmfix.builder import msvc
from mmfix.checks import run_checks
from mmfix.checks.base import CheckContext
from mmfix.errors import OperationFailed, RefusedError
from mmfix.model import Environment, Host, Nvcc, Status, TargetPython, WindowsFacts
from mmfix.probe import windows as pw

DATA = Path(__file__).resolve().parents[1] / "data" / "windows"

VS = {
    "2017": r"C:\Program Files (x86)\Microsoft Visual Studio\2017\BuildTools",
    "2019": r"C:\Program Files (x86)\Microsoft Visual Studio\2019\Community",
    "2022": r"C:\Program Files (x86)\Microsoft Visual Studio\2022\BuildTools",
    "2022-17.10": r"C:\Program Files\Microsoft Visual Studio\2022\Community",
    "2017-15.6": r"D:\VS\2017\Professional",
}
TOOLSETS = {
    "2017": ["14.16.27023"],
    "2019": ["14.29.30133"],
    "2022": ["14.44.35207"],
    "2022-17.10": ["14.40.33807"],
    "2017-15.6": ["14.13.26128"],
}
VSWHERE_STD = r"C:\Program Files (x86)\Microsoft Visual Studio\Installer\vswhere.exe"


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def text(name: str, encoding: str = "utf-8") -> str:
    return proc.decode(raw(name), encoding)


def upper_keys(env: Mapping[str, str]) -> dict[str, str]:
    """What ``os.environ`` looks like in Python on Windows: names upper-cased."""
    return {k.upper(): v for k, v in env.items()}


@dataclass
class FakeWindows:
    """A Windows machine made of recorded outputs: programs by file name, folders, registry."""

    env: dict[str, str]
    outputs: dict[str, bytes] = field(default_factory=dict)  # "cl.exe" -> its output bytes
    on_path: dict[str, str] = field(default_factory=dict)  # which() answers
    dirs: dict[str, list[str]] = field(default_factory=dict)
    registry: dict[tuple[str, str], object] = field(default_factory=dict)
    returncodes: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[tuple[str, ...], dict[str, str] | None, str | None]] = field(
        default_factory=list
    )

    def run(self, argv: Sequence[str], timeout: float = 30.0, env: Mapping[str, str] | None = None,
            cwd: str | None = None, encoding: str | None = None,
            input_text: str | None = None) -> proc.ProcResult:
        args = tuple(argv)
        self.calls.append((args, dict(env) if env is not None else None, encoding))
        name = PureWindowsPath(args[0]).name.lower()
        if name not in self.outputs:
            return proc.ProcResult(args, None, start_error="cannot find the file specified")
        # decoded exactly as mmfix.proc.run decodes: in the encoding the caller asked for
        out = proc.decode(self.outputs[name], encoding or "utf-8")
        return proc.ProcResult(args, self.returncodes.get(name, 0), out)

    def which(self, name: str, path: str | None = None) -> str | None:
        return self.on_path.get(name)

    def list_dir(self, path: str) -> list[str]:
        return self.dirs.get(str(PureWindowsPath(path)).lower(), [])

    def read_registry(self, key: str, value: str) -> object:
        return self.registry.get((key, value))

    def is_file(self, path: str) -> bool:
        return str(PureWindowsPath(path)).lower() in {
            str(PureWindowsPath(p)).lower() for p in self.dirs.get("<files>", [])
        }

    def probe(self, code_page: str = "cp437") -> WindowsFacts:
        return pw.probe_windows(self.env, run=self.run, which=self.which,
                                read_registry=self.read_registry, list_dir=self.list_dir,
                                code_page=code_page)


def machine(
    vs: Sequence[str] = ("2017", "2019", "2022"),
    env_file: str = "set-anaconda-prompt.txt",
    cl: str | None = None,
    vswhere: str | None = None,
    extra_toolsets: Mapping[str, Sequence[str]] | None = None,
    long_paths: int | None = 0,
    code_page: str = "utf-8",
) -> FakeWindows:
    """A fake Windows host with the VS instances ``vs`` and the shell recorded in ``env_file``."""
    env = upper_keys(msvc.parse_set_output(text(env_file, code_page)))
    fw = FakeWindows(env)
    if vswhere is None:
        vswhere = {("2017", "2019", "2022"): "vswhere-2017-2019-2022.json",
                   ("2022-17.10",): "vswhere-2022-17.10.json",
                   ("2017-15.6",): "vswhere-2017-15.6.json", (): "vswhere-none.json"}.get(tuple(vs))
    if vswhere:
        fw.on_path[VSWHERE_STD] = VSWHERE_STD
        fw.outputs["vswhere.exe"] = raw(vswhere)
    for key in vs:
        names = list(TOOLSETS[key]) + list((extra_toolsets or {}).get(key, ()))
        fw.dirs[str(PureWindowsPath(VS[key]) / "VC" / "Tools" / "MSVC").lower()] = names
    if cl:
        root = env.get("VCTOOLSINSTALLDIR", r"C:\Tools\MSVC\x" + "\\")
        fw.on_path["cl"] = str(PureWindowsPath(root) / "bin" / "Hostx64" / "x64" / "cl.exe")
        fw.outputs["cl.exe"] = raw(cl)
    if long_paths is not None:
        fw.registry[(pw.LONG_PATHS_KEY, pw.LONG_PATHS_VALUE)] = long_paths
    return fw


def nvcc_release(cuda: str) -> str:
    release, _full = pw.parse_nvcc_version(text(f"nvcc-version-win-{cuda}.txt"))
    assert release is not None
    return release


def win_env(facts: WindowsFacts, cuda: str | None, host_env: Mapping[str, str] | None = None,
            prefix: str = r"C:\Users\ci\miniconda3\envs\openmmlab") -> Environment:
    nvcc = None
    if cuda:
        root = rf"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v{cuda}"
        nvcc = Nvcc(path=root + r"\bin\nvcc.exe", real_path=None, version=nvcc_release(cuda),
                    toolkit_root=root)
    return Environment(
        target=TargetPython(executable=prefix + r"\python.exe", version="3.11.9", platform="win32",
                            machine="AMD64", prefix=prefix),
        host=Host(os="Windows", env=dict(host_env or {}), nvcc=nvcc, windows=facts),
    )


# --- parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, encoding, version, arch",
    [
        ("cl-en-19.29.30133-x64.txt", "utf-8", "19.29.30133", "x64"),
        ("cl-en-19.44.35207-x86.txt", "utf-8", "19.44.35207.1", "x86"),
        ("cl-en-19.16.27051-x64.txt", "utf-8", "19.16.27051", "x64"),
        ("cl-zh-19.29.30133-x64.cp936", "cp936", "19.29.30133", "x64"),
    ],
)
def test_cl_banner_version_and_arch(name: str, encoding: str, version: str, arch: str) -> None:
    assert pw.parse_cl_banner(text(name, encoding)) == (version, arch)


def test_chinese_banner_decodes_without_loss_in_cp936() -> None:
    data = raw("cl-zh-19.29.30133-x64.cp936")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really GBK bytes, not UTF-8
    first = proc.decode(data, "cp936").splitlines()[0]
    assert first == "用于 x64 的 Microsoft (R) C/C++ 优化编译器 19.29.30133 版"


def test_msc_ver_from_cl_version() -> None:
    from mmfix.knowledge.msvc import msc_ver_for_toolset, msc_ver_from_cl_version

    assert msc_ver_from_cl_version("19.29.30133") == 1929
    assert msc_ver_from_cl_version("19.44.35207.1") == 1944
    assert msc_ver_from_cl_version("nonsense") is None
    assert [msc_ver_for_toolset(t) for t in ("14.0", "14.16.27023", "14.29.30133", "14.39.33519",
                                             "14.40.33807", "14.44.35207")] == [
        1900, 1916, 1929, 1939, 1940, 1944]
    assert msc_ver_for_toolset("14.17.1") is None  # no 14.17 toolset: 14.1x ends at 1916
    assert msc_ver_for_toolset("garbage") is None


@pytest.mark.parametrize("cuda, full", [
    ("9.2", "9.2.148"), ("10.2", "10.2.89"), ("11.0", "11.0.221"), ("11.8", "11.8.89"),
    ("12.1", "12.1.105"), ("12.4", "12.4.131"), ("13.0", "13.0.88"),
])
def test_nvcc_version_on_windows(cuda: str, full: str) -> None:
    assert pw.parse_nvcc_version(text(f"nvcc-version-win-{cuda}.txt")) == (cuda, full)


def test_vswhere_instances_with_toolsets_newest_first() -> None:
    fw = machine(extra_toolsets={"2022": ["14.39.33519", "14.29.30133"]})
    insts = pw.vs_instances_from_vswhere(text("vswhere-2017-2019-2022.json"), fw.list_dir)
    assert [(i.display_name, i.version) for i in insts] == [
        ("Visual Studio Build Tools 2022", "17.14.36203.30"),
        ("Visual Studio Community 2019", "16.11.34729.46"),
        ("Visual Studio Build Tools 2017", "15.9.28307.2094"),
    ]
    assert insts[0].path == VS["2022"]
    assert insts[0].toolsets == ("14.44.35207", "14.39.33519", "14.29.30133")
    assert pw.parse_vswhere("[]\r\n") == []
    assert pw.parse_vswhere("vswhere: error 0x80070002") == []


# --- the probe -------------------------------------------------------------------------------


def test_probe_inactive_shell_lists_instances() -> None:
    fw = machine()
    wf = fw.probe()
    assert not wf.dev_shell and wf.cl is None and wf.msc_ver is None and wf.target_arch is None
    assert [i.toolsets for i in wf.vs_instances] == [("14.44.35207",), ("14.29.30133",),
                                                     ("14.16.27023",)]
    assert wf.long_paths_enabled is False
    vswhere_call = next(c for c in fw.calls if c[0][0] == VSWHERE_STD)
    assert vswhere_call[0][1:] == ("-all", "-products", "*", "-requires",
                                   "Microsoft.VisualStudio.Component.VC.Tools.x86.x64",
                                   "-format", "json", "-utf8")
    assert vswhere_call[2] == "utf-8"  # -utf8 output is read as UTF-8 whatever the console


def test_probe_active_x64_shell() -> None:
    fw = machine(env_file="set-devshell-vs2022-x64.txt", cl="cl-en-19.44.35207-x64.txt",
                 long_paths=1)
    wf = fw.probe()
    assert wf.dev_shell
    assert (wf.vscmd_ver, wf.vc_tools_version, wf.target_arch) == ("17.14.7", "14.44.35207", "x64")
    assert wf.cl is not None and wf.cl.version == "19.44.35207.1" and wf.msc_ver == 1944
    assert wf.long_paths_enabled is True


def test_probe_x86_shell() -> None:
    wf = machine(env_file="set-devshell-vs2022-x86.txt", cl="cl-en-19.44.35207-x86.txt").probe()
    assert wf.dev_shell and wf.target_arch == "x86"


def test_shell_variables_without_cl_is_not_a_dev_shell() -> None:
    wf = machine(env_file="set-devshell-vs2022-x64.txt").probe()  # cl.exe not on PATH
    assert not wf.dev_shell and wf.vscmd_ver == "17.14.7"


def test_probe_reads_chinese_cl_in_console_code_page() -> None:
    fw = machine(cl="cl-zh-19.29.30133-x64.cp936")
    wf = fw.probe(code_page="cp936")
    assert wf.cl is not None and wf.cl.banner is not None
    assert wf.cl.banner.startswith("用于 x64 的")
    assert wf.msc_ver == 1929 and wf.code_page == "cp936"
    cl_call = next(c for c in fw.calls if c[0][0].endswith("cl.exe"))
    assert cl_call[2] == "cp936"


def test_probe_no_visual_studio() -> None:
    assert machine(vs=()).probe().vs_instances == ()
    fw = machine(vs=(), vswhere="")  # no vswhere.exe at all (no VS installer ever ran)
    wf = fw.probe()
    assert wf.vs_instances == () and fw.calls == []


def test_cuda_toolkits_from_variables_and_standard_folder() -> None:
    std = r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA"
    fw = machine()
    fw.env["CUDA_PATH_V12_4"] = std + r"\v12.4"
    fw.dirs[std.lower()] = ["v11.8", "v12.4", "v13.0", "Readme.txt"]
    fw.dirs["<files>"] = [std + r"\v11.8\bin\nvcc.exe", std + r"\v12.4\bin\nvcc.exe",
                          std + r"\v12.4\include\cusparse.h"]
    tks = pw.windows_cuda_toolkits(fw.env, fw.list_dir, fw.is_file)
    assert [(t.version, t.source, t.has_nvcc) for t in tks] == [
        ("11.8", "CUDA_PATH", True), ("12.4", "CUDA_PATH_V12_4", True), ("13.0", "standard", False)]
    assert tks[1].math_headers == ("cusparse.h",)


def test_windows_modules_import_without_winreg() -> None:
    code = ("import sys, mmfix.probe.windows, mmfix.builder.msvc, mmfix.checks.windows; "
            "assert 'winreg' not in sys.modules; "
            "assert mmfix.probe.windows.windows_registry_reader('SYSTEM', 'x') is None; "
            "assert mmfix.probe.windows.console_code_page() is None")
    src = Path(__file__).resolve().parents[2] / "src"
    res = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(src)},
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


# --- choosing a toolset: VS 2017 / 2019 / 2022 x CUDA ----------------------------------------

# Expected choices, worked out by hand from CUDA's host_config.h ranges (catalog table E) and
# STL1002.
CHOICE_ALL_THREE = {  # VS 2017 (14.16), 2019 (14.29), 2022 (14.44) installed
    "9.2": None, "10.2": "14.29.30133", "11.0": "14.29.30133", "11.8": "14.29.30133",
    "12.1": "14.29.30133", "12.4": "14.44.35207", "13.0": "14.44.35207",
}
FITS_ALONE = {  # which single instance fits each CUDA
    "2017": {"9.2": False, "10.2": True, "11.0": True, "11.8": True, "12.1": True, "12.4": True,
             "13.0": False},
    "2019": {"9.2": False, "10.2": True, "11.0": True, "11.8": True, "12.1": True, "12.4": True,
             "13.0": True},
    "2022": {"9.2": False, "10.2": False, "11.0": False, "11.8": False, "12.1": False,
             "12.4": True, "13.0": True},
}


@pytest.mark.parametrize("cuda", sorted(CHOICE_ALL_THREE))
def test_newest_fitting_toolset_of_three_instances(cuda: str) -> None:
    wf = machine().probe()
    want = CHOICE_ALL_THREE[cuda]
    if want is None:
        with pytest.raises(RefusedError) as err:
            msvc.choose_toolset(wf.vs_instances, nvcc_release(cuda))
        assert "1600-1913" in (err.value.why or "") and "14.13" in (err.value.fix or "")
    else:
        choice, warnings = msvc.choose_toolset(wf.vs_instances, nvcc_release(cuda))
        assert choice.toolset == want and warnings == ()


@pytest.mark.parametrize("vs", sorted(FITS_ALONE))
@pytest.mark.parametrize("cuda", ["9.2", "10.2", "11.0", "11.8", "12.1", "12.4", "13.0"])
def test_single_instance_in_or_out_of_range(vs: str, cuda: str) -> None:
    wf = machine(vs=(vs,), vswhere="vswhere-2017-2019-2022.json").probe()
    if FITS_ALONE[vs][cuda]:
        choice, _ = msvc.choose_toolset(wf.vs_instances, cuda)
        assert choice.toolset == TOOLSETS[vs][0]
    else:
        with pytest.raises(RefusedError):
            msvc.choose_toolset(wf.vs_instances, cuda)


def test_only_an_older_side_by_side_toolset_fits() -> None:
    wf = machine(extra_toolsets={"2022": ["14.39.33519"]}).probe()
    choice, _ = msvc.choose_toolset(wf.vs_instances, "11.8")
    assert (choice.toolset, choice.instance.path) == ("14.39.33519", VS["2022"])
    choice, _ = msvc.choose_toolset(wf.vs_instances, "12.4")
    assert choice.toolset == "14.44.35207"


def test_cuda_92_fits_vs2017_15_6() -> None:
    wf = machine(vs=("2017-15.6",)).probe()
    choice, _ = msvc.choose_toolset(wf.vs_instances, "9.2")
    assert (choice.toolset, choice.msc_ver) == ("14.13.26128", 1913)


def test_stl1002_refused_even_with_allow_unsupported() -> None:
    wf = machine(vs=("2022-17.10",)).probe()
    for allow in (False, True):
        with pytest.raises(RefusedError) as err:
            msvc.choose_toolset(wf.vs_instances, "12.1", allow_unsupported=allow)
        assert "STL1002" in (err.value.why or "")
        assert "14.39" in (err.value.fix or "")  # the v143 14.39 component is what to install


def test_allow_unsupported_takes_out_of_range_toolset_with_warning() -> None:
    wf = machine(vs=("2017",), vswhere="vswhere-2017-2019-2022.json").probe()
    with pytest.raises(RefusedError) as err:
        msvc.choose_toolset(wf.vs_instances, "13.0")
    assert "1920-1949" in (err.value.why or "") and "Visual Studio 2022" in (err.value.fix or "")
    choice, warnings = msvc.choose_toolset(wf.vs_instances, "13.0", allow_unsupported=True)
    assert choice.toolset == "14.16.27023"
    assert len(warnings) == 1 and "-allow-unsupported-compiler" in warnings[0]


def test_allow_unsupported_does_not_exist_before_cuda_11() -> None:
    wf = machine(vs=("2019",), vswhere="vswhere-2017-2019-2022.json").probe()
    with pytest.raises(RefusedError) as err:
        msvc.choose_toolset(wf.vs_instances, "9.2", allow_unsupported=True)
    assert "-allow-unsupported-compiler" in err.value.what


def test_no_visual_studio_refused_with_install_hint() -> None:
    with pytest.raises(RefusedError) as err:
        msvc.choose_toolset((), "11.8")
    assert "Microsoft.VisualStudio.Component.VC.14.39.17.9.x86.x64" in (err.value.fix or "")


# --- the plan on a simulated Windows env -----------------------------------------------------


def capture_machine(vs: Sequence[str] = ("2017", "2019", "2022"),
                    env_file: str = "set-anaconda-prompt.txt",
                    dump: str = "vcvarsall-x64-14.29-set.txt", code_page: str = "utf-8",
                    cl: str | None = None) -> FakeWindows:
    fw = machine(vs=vs, env_file=env_file, code_page=code_page, cl=cl)
    fw.outputs["cmd"] = raw(dump)
    return fw


def test_plan_outside_shell_captures_toolset_vars_and_sdk() -> None:
    """The rebuild plan on a simulated Windows env: toolset, captured vars, DISTUTILS_USE_SDK."""
    fw = capture_machine()
    wf = fw.probe()
    base = msvc.parse_set_output(text("set-anaconda-prompt.txt"))  # the prompt as cmd spells it
    plan = msvc.plan_msvc(win_env(wf, "11.8"), "11.8", run=fw.run, base_env=base)

    assert (plan.toolset, plan.toolset_full, plan.msc_ver) == ("14.29", "14.29.30133", 1929)
    assert plan.vs_instance is not None and plan.vs_instance.path == VS["2019"]
    vcvarsall = VS["2019"] + r"\VC\Auxiliary\Build\vcvarsall.bat"
    assert subprocess.list2cmdline(plan.vcvars_argv) == (
        f'cmd /d /s /c call "{vcvarsall}" x64 -vcvars_ver=14.29.30133 && echo MMFIX-VCVARS-ENV'
        " && set")
    adds = plan.env_additions
    assert adds["DISTUTILS_USE_SDK"] == "1"
    assert adds["VCToolsVersion"] == "14.29.30133"
    assert adds["VSCMD_ARG_TGT_ARCH"] == "x64"
    assert adds["INCLUDE"].startswith(VS["2019"] + r"\VC\Tools\MSVC\14.29.30133\ATLMFC\include;")
    assert adds["Path"].startswith(VS["2019"] + r"\VC\Tools\MSVC\14.29.30133\bin\HostX64\x64;")
    assert adds["Path"].endswith(base["Path"])
    assert "USERNAME" not in adds and "CUDA_PATH" not in adds  # unchanged ones are not repeated
    assert plan.nvcc_flags == () and plan.warnings == () and plan.captured
    shown = "\n".join(plan.describe())
    assert "MSVC toolset 14.29 (_MSC_VER 1929) from Visual Studio Community 2019" in shown
    assert "  set DISTUTILS_USE_SDK=1" in shown and "  set VCToolsVersion=14.29.30133" in shown
    # the build gets it; the user's shell (base) is untouched
    built = msvc.build_env(plan, base)
    assert built["VCToolsVersion"] == "14.29.30133" and built["DISTUTILS_USE_SDK"] == "1"
    assert "VCToolsVersion" not in base


def test_capture_decodes_cp936_without_loss() -> None:
    fw = capture_machine(env_file="set-anaconda-prompt-zh.cp936",
                         dump="vcvarsall-x64-14.29-set-zh.cp936", code_page="cp936")
    wf = fw.probe(code_page="cp936")
    base = msvc.parse_set_output(text("set-anaconda-prompt-zh.cp936", "cp936"))
    assert base["TEMP"] == r"C:\Users\张伟\AppData\Local\Temp"
    plan = msvc.plan_msvc(win_env(wf, "12.1"), "12.1", run=fw.run, base_env=base)
    assert plan.code_page == "cp936"
    assert "TEMP" not in plan.env_additions  # decoded identically: no spurious change
    assert r"C:\Users\张伟\miniconda3\envs\openmmlab;" in plan.env_additions["Path"]
    assert fw.calls[-1][2] == "cp936"


def test_plan_uses_fitting_dev_shell_as_is() -> None:
    fw = machine(env_file="set-devshell-vs2022-x64.txt", cl="cl-en-19.44.35207-x64.txt")
    wf = fw.probe()
    n_calls = len(fw.calls)
    plan = msvc.plan_msvc(win_env(wf, "12.4"), "12.4", run=fw.run)
    assert plan.uses_dev_shell and plan.vcvars_argv == ()
    assert (plan.toolset, plan.msc_ver) == ("14.44", 1944)
    assert plan.env_additions == {"DISTUTILS_USE_SDK": "1"}
    assert plan.vs_instance is not None and plan.vs_instance.path == VS["2022"]
    assert len(fw.calls) == n_calls  # nothing was run
    assert "the active developer shell, as is" in "\n".join(plan.describe())


def test_plan_in_unfitting_shell_captures_clean_x64_env() -> None:
    fw = capture_machine(env_file="set-devshell-vs2022-x64.txt", cl="cl-en-19.44.35207-x64.txt")
    wf = fw.probe()
    shell_env = msvc.parse_set_output(text("set-devshell-vs2022-x64.txt"))
    plan = msvc.plan_msvc(win_env(wf, "12.1"), "12.1", run=fw.run, base_env=shell_env)
    assert plan.toolset == "14.29" and not plan.uses_dev_shell
    assert "does not fit CUDA 12.1" in plan.warnings[0]
    child_env = fw.calls[-1][1]
    assert child_env is not None
    assert child_env["Path"] == shell_env["__VSCMD_PREINIT_PATH"]  # the pre-activation PATH
    assert not any(k.upper().startswith("VSCMD_") or k.upper() == "INCLUDE" for k in child_env)
    assert "CUDA_PATH" not in plan.env_additions  # vcvarsall leaves it alone
    built = msvc.build_env(plan, shell_env)
    assert built["VCToolsVersion"] == "14.29.30133"
    # set by both shells with the same value: still there after the shell's VS variables are dropped
    assert built["WindowsSdkDir"] == shell_env["WindowsSdkDir"]
    assert built["VSCMD_ARG_TGT_ARCH"] == "x64" and built["VisualStudioVersion"] == "16.0"
    assert "VCToolsRedistDir" in built and "14.29.30133" in built["VCToolsRedistDir"]
    assert not any("2022" in v for k, v in built.items() if k in ("INCLUDE", "LIB", "LIBPATH"))


def test_plan_in_x86_shell_captures_x64() -> None:
    fw = capture_machine(env_file="set-devshell-vs2022-x86.txt", cl="cl-en-19.44.35207-x86.txt")
    wf = fw.probe()
    plan = msvc.plan_msvc(win_env(wf, "11.8"), "11.8", run=fw.run,
                          base_env=msvc.parse_set_output(text("set-devshell-vs2022-x86.txt")))
    assert plan.vcvars_argv[5:8] == (VS["2019"] + r"\VC\Auxiliary\Build\vcvarsall.bat", "x64",
                                     "-vcvars_ver=14.29.30133")
    assert "targets x86" in plan.warnings[0]


@pytest.mark.parametrize("cuda, flags", [
    ("12.4", ()), ("13.0", ("-Xcompiler", "/Zc:preprocessor")),
])
def test_conforming_preprocessor_flag_for_cuda_13(cuda: str, flags: tuple[str, ...]) -> None:
    fw = machine(env_file="set-devshell-vs2022-x64.txt", cl="cl-en-19.44.35207-x64.txt")
    plan = msvc.plan_msvc(win_env(fw.probe(), cuda), cuda, run=fw.run)
    assert plan.nvcc_flags == flags


def test_plan_allow_unsupported_adds_flag_and_warning() -> None:
    fw = machine(vs=("2017",), vswhere="vswhere-2017-2019-2022.json")
    plan = msvc.plan_msvc(win_env(fw.probe(), "13.0"), "13.0", allow_unsupported=True,
                          capture=False)
    assert plan.toolset == "14.16" and plan.nvcc_flags[-1] == "-allow-unsupported-compiler"
    assert plan.nvcc_flags[:2] == ("-Xcompiler", "/experimental:preprocessor")  # 1916 < 1925
    assert any("-allow-unsupported-compiler" in w for w in plan.warnings)
    assert not plan.captured and plan.env_additions == {"DISTUTILS_USE_SDK": "1"}


def test_plan_without_windows_facts_is_refused() -> None:
    env = win_env(WindowsFacts(), None)
    env = Environment(target=env.target, host=Host(os="Linux"))
    with pytest.raises(RefusedError):
        msvc.plan_msvc(env, "12.4")


def test_capture_failure_and_wrong_toolset_are_errors() -> None:
    fw = capture_machine()
    plan = msvc.plan_msvc(win_env(fw.probe(), "11.8"), "11.8", capture=False)
    fw.outputs["cmd"] = (b"[ERROR:vcvars.bat] Toolset directory for version '14.29.30133' was "
                         b"not found.\r\n")
    fw.returncodes["cmd"] = 1
    with pytest.raises(OperationFailed) as err:
        msvc.capture_vcvars_env(plan, run=fw.run, base_env={})
    assert "was not found" in (err.value.why or "")
    fw.returncodes["cmd"] = 0
    fw.outputs["cmd"] = raw("vcvarsall-x64-14.29-set.txt").replace(b"14.29.30133", b"14.28.29910")
    with pytest.raises(OperationFailed):
        msvc.capture_vcvars_env(plan, run=fw.run, base_env={})


def test_vcvars_argv_quoting() -> None:
    bat = r"D:\VS\2017\Professional\VC\Auxiliary\Build\vcvarsall.bat"
    argv = msvc.vcvars_argv(bat, "14.13.26128")
    assert subprocess.list2cmdline(argv) == (
        r"cmd /d /s /c call D:\VS\2017\Professional\VC\Auxiliary\Build\vcvarsall.bat x64 "
        "-vcvars_ver=14.13.26128 && echo MMFIX-VCVARS-ENV && set")
    for bad in (r"D:\VS&Co\vcvarsall.bat", r"D:\VS %X%\vcvarsall.bat", 'D:\\"VS\\vcvarsall.bat'):
        with pytest.raises(RefusedError):
            msvc.vcvars_argv(bad, "14.29")
    # a path with spaces and parentheses is fine: it is quoted
    ok = msvc.vcvars_argv(VS["2019"] + r"\VC\Auxiliary\Build\vcvarsall.bat", "14.29.30133")
    assert f'call "{VS["2019"]}' in subprocess.list2cmdline(ok)


def test_parse_set_output_skips_banner_and_drive_variables() -> None:
    out = msvc.parse_set_output("** Visual Studio 2019 Developer Command Prompt v16.11.35\r\n"
                                "[vcvarsall.bat] Environment initialized for: 'x64'\r\n"
                                "MMFIX-VCVARS-ENV\r\n=C:=C:\\work\r\nA=b=c\r\nPath=C:\\x;D:\\y\r\n")
    assert out == {"A": "b=c", "Path": "C:\\x;D:\\y"}


# --- probe -> checks, end to end on recorded data --------------------------------------------


def test_doctor_checks_on_probed_x86_shell() -> None:
    fw = machine(env_file="set-devshell-vs2022-x86.txt", cl="cl-en-19.44.35207-x86.txt")
    wf = fw.probe()
    env = win_env(wf, "12.1", host_env=fw.env)
    findings = {f.id: f for f in run_checks(CheckContext(env))}
    assert findings["msvc-shell-target-arch"].status is Status.FAIL
    assert findings["msvc-unsupported"].status is Status.FAIL  # 1944 > 1939
    assert "14.29.30133" in (findings["msvc-unsupported"].fix or "")
    assert findings["msvc-stl-cuda-mismatch"].status is Status.FAIL
    assert findings["msvc-env-no-sdk"].status is Status.FAIL
    assert findings["msvc-missing"].status is Status.OK
    assert all(f.status is not Status.ERROR for f in findings.values())


def test_probe_defaults_off_windows_read_no_registry_and_no_code_page() -> None:
    fw = machine(cl="cl-en-19.29.30133-x64.txt")
    wf = pw.probe_windows(fw.env, run=fw.run, which=fw.which, list_dir=fw.list_dir)
    assert wf.long_paths_enabled is None and wf.code_page is None  # unknown here, not guessed
    assert wf.msc_ver == 1929 and len(wf.vs_instances) == 3
