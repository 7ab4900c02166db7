# Runs INSIDE the target interpreter (Python 3.6 - 3.13), stdlib only, never imports torch or mmcv.
# Prints one JSON document on stdout. Sent by mmfix.probe.target; keep it 3.6-compatible:
# no f-string "=", no walrus, no dataclasses, no "from __future__ import annotations".
# The caller prepends the source of downstream_bounds.py, which defines read_mmcv_bounds(source), and
# DOWNSTREAM: (distribution, import name) pairs from mmfix.knowledge.downstream (probe.target.downstream_table).
import ast
import glob
import json
import os
import platform
import re
import sys
import sysconfig

MMCV_DISTS = ("mmcv", "mmcv-full", "mmcv-lite")
TOOLS = ("setuptools", "pip", "wheel", "ninja", "numpy", "packaging", "torchvision", "yapf")
# An import of what mmcv 2.0 moved to mmengine (mmcv.runner, mmcv.parallel, mmcv.Config ...).
MMCV1X_IMPORT = re.compile(
    r"^\s*(?:from\s+mmcv\.(?:runner|parallel|fileio|engine|utils\.config|utils\.registry|cnn\.bricks\.registry)\b"
    r"|import\s+mmcv\.(?:runner|parallel|fileio|engine)\b|from\s+mmcv\s+import\s+[^#]*\b(?:Config|DictAction|ConfigDict)\b)"
)
MAX_SOURCE_FILES = 4000  # .py files read per package when looking for such an import


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def search_dirs():
    seen = []
    for p in sys.path:
        if p and os.path.isdir(p) and p not in seen:
            seen.append(os.path.abspath(p))
    return seen


def read_text(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def header_value(text, key):
    for line in text.splitlines():
        if not line.strip():
            break
        if line.lower().startswith(key.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def find_distributions():
    """name -> list of dicts (first on sys.path first)."""
    found = {}
    for d in search_dirs():
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                meta_file = os.path.join(d, entry, "METADATA")
                kind = "dist-info"
            elif entry.endswith(".egg-info"):
                meta_file = os.path.join(d, entry)
                if os.path.isdir(meta_file):
                    meta_file = os.path.join(meta_file, "PKG-INFO")
                kind = "egg-info"
            else:
                continue
            text = read_text(meta_file)
            if not text:
                continue
            name = header_value(text, "Name")
            version = header_value(text, "Version")
            if not name:
                continue
            info = {
                "name": norm(name),
                "version": version,
                "location": d,
                "meta_dir": os.path.join(d, entry),
                "kind": kind,
            }
            found.setdefault(norm(name), []).append(info)
    return found


def dist_files(info):
    record = read_text(os.path.join(info["meta_dir"], "RECORD")) if info["kind"] == "dist-info" else None
    if not record:
        return None
    files = []
    for line in record.splitlines():
        path = line.split(",", 1)[0]
        if path:
            files.append(path)
    return files


def wheel_tag(info):
    if info["kind"] != "dist-info":
        return None
    text = read_text(os.path.join(info["meta_dir"], "WHEEL")) or ""
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    if not tags:
        return None
    parts = [t.split("-", 2) for t in tags]
    if all(len(p) == 3 and p[1:] == parts[0][1:] for p in parts):
        # the compressed form pip uses in file names: py2.py3-none-any
        return ".".join(p[0] for p in parts) + "-" + "-".join(parts[0][1:])
    return ".".join(tags)


def editable_location(info):
    text = read_text(os.path.join(info["meta_dir"], "direct_url.json"))
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if data.get("dir_info", {}).get("editable"):
        url = data.get("url", "")
        if url.startswith("file://"):
            return url[len("file://"):]
    return None


def package_dir(import_name):
    try:
        import importlib.util

        spec = importlib.util.find_spec(import_name)
    except Exception:  # noqa: BLE001 - a broken finder is a fact, not a crash
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    locs = list(spec.submodule_search_locations)
    return locs[0] if locs else None


def ext_files_in(pkg_dir):
    if not pkg_dir:
        return []
    pats = ("_ext*.so", "_ext*.pyd", "_ext*.dylib")
    out = []
    for pat in pats:
        out.extend(glob.glob(os.path.join(pkg_dir, pat)))
    return sorted(out)


def mmcv_info(dists):
    out = []
    active_dir = package_dir("mmcv")
    for name in MMCV_DISTS:
        for info in dists.get(name, []):
            files = dist_files(info)
            editable = editable_location(info)
            if files is not None:
                ext = [
                    os.path.normpath(os.path.join(info["location"], f))
                    for f in files
                    if re.match(r"^mmcv[/\\]_ext[^/\\]*\.(so|pyd|dylib)$", f)
                ]
                ext = [p for p in ext if os.path.exists(p)]
                pkg = os.path.join(info["location"], "mmcv")
                pkg = pkg if os.path.isdir(pkg) else active_dir
                if editable or not any(f.startswith("mmcv/") or f.startswith("mmcv\\") for f in files):
                    pkg = active_dir
                    ext = ext or ext_files_in(pkg)
            else:
                pkg = active_dir
                ext = ext_files_in(pkg)
            installer = read_text(os.path.join(info["meta_dir"], "INSTALLER"))
            out.append(
                {
                    "name": name,
                    "version": info["version"],
                    "location": info["location"],
                    "package_dir": pkg,
                    "wheel_tag": wheel_tag(info),
                    "installer": installer.strip() if installer else None,
                    "ext_files": ext,
                    "editable": bool(editable) or info["kind"] == "egg-info",
                }
            )
    return out


def literal_assignments(path, names):
    text = read_text(path)
    out = {}
    if text is None:
        return out
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return out
    for node in tree.body:
        # "cuda = '12.1'" and, since torch 2.x, "cuda: Optional[str] = '13.0'"
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                out[target.id] = ast.literal_eval(value)
            except ValueError:
                pass
    return out


def torch_info(dists):
    pkg = package_dir("torch")
    if not pkg:
        return None
    values = literal_assignments(os.path.join(pkg, "version.py"), ("__version__", "cuda", "hip"))
    version = values.get("__version__")
    if not version:
        infos = dists.get("torch") or []
        version = infos[0]["version"] if infos else None
    if not version:
        return None
    abi = None
    cmake = read_text(os.path.join(pkg, "share", "cmake", "Torch", "TorchConfig.cmake")) or ""
    m = re.search(r"_GLIBCXX_USE_CXX11_ABI=(\d)", cmake)
    if m:
        abi = m.group(1) == "1"
    include = os.path.join(pkg, "include")
    lib = os.path.join(pkg, "lib")
    site = os.path.dirname(pkg)
    nv_inc = sorted(glob.glob(os.path.join(site, "nvidia", "*", "include")))
    nv_lib = sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))
    try:
        libs = sorted(os.listdir(lib))
    except OSError:
        libs = []
    return {
        "version": version,
        "location": pkg,
        "cuda": values.get("cuda"),
        "hip": values.get("hip"),
        "cxx11_abi": abi,
        "include_dir": include if os.path.isdir(include) else None,
        "lib_dir": lib if os.path.isdir(lib) else None,
        "nvidia_include_dirs": nv_inc,
        "nvidia_lib_dirs": nv_lib,
        "libraries": [x for x in libs if x.endswith((".so", ".dll", ".dylib")) or ".so." in x],
    }


def first_mmcv1x_import(pkg):
    """"file:line: text" of the first import in ``pkg`` of a module mmcv 2.0 removed, or None."""
    seen = 0
    for root, dirs, files in os.walk(pkg):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # not mim's .mim copies of tools
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            seen += 1
            if seen > MAX_SOURCE_FILES:
                return None
            path = os.path.join(root, name)
            for number, line in enumerate((read_text(path) or "").splitlines(), 1):
                if "mmcv" in line and MMCV1X_IMPORT.match(line):
                    return "%s:%d: %s" % (os.path.relpath(path, os.path.dirname(pkg)), number, line.strip())
    return None


def downstream_info(dists, mmcv2=False):
    out = []
    for dist_name, import_name in DOWNSTREAM:
        infos = dists.get(dist_name) or []
        pkg = package_dir(import_name)
        if not infos and not pkg:
            continue
        init = os.path.join(pkg, "__init__.py") if pkg else None
        bounds = {}
        if init and os.path.isfile(init) and import_name != "mmengine":
            text = read_text(init)
            if text:
                try:
                    bounds = read_mmcv_bounds(text) or {}  # noqa: F821 - prepended by the caller
                except Exception:  # noqa: BLE001
                    bounds = {}
        version = infos[0]["version"] if infos else None
        if version is None and pkg:
            vals = literal_assignments(os.path.join(pkg, "version.py"), ("__version__",))
            version = vals.get("__version__")
        out.append(
            {
                "name": import_name,
                "version": version or "unknown",
                "location": pkg,
                "init_file": init,
                "mmcv_min": bounds.get("min"),
                "mmcv_max": bounds.get("max"),
                "max_inclusive": bounds.get("max_inclusive"),
                "mmcv1x_import": first_mmcv1x_import(pkg) if mmcv2 and pkg and import_name != "mmengine" else None,
            }
        )
    return out


def major(version):
    m = re.match(r"\d+", version or "")
    return int(m.group(0)) if m else 0


def main():
    dists = find_distributions()
    packages = {}
    for name in TOOLS:
        infos = dists.get(name)
        if infos and infos[0]["version"]:
            packages[name] = infos[0]["version"]
    paths = sysconfig.get_paths()
    site = []
    for key in ("purelib", "platlib"):
        p = paths.get(key)
        if p and p not in site:
            site.append(p)
    base_prefix = getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))
    mmcv = mmcv_info(dists)
    doc = {
        "target": {
            "executable": sys.executable,
            "version": "%d.%d.%d" % sys.version_info[:3],
            "implementation": platform.python_implementation().lower(),
            "platform": sys.platform,
            "machine": platform.machine(),
            "prefix": sys.prefix,
            "is_venv": sys.prefix != base_prefix,
            "conda_prefix": os.environ.get("CONDA_PREFIX"),
            "site_packages": site,
            "packages": packages,
        },
        "torch": torch_info(dists),
        "mmcv": mmcv,
        "downstream": downstream_info(dists, any(m["name"] == "mmcv" and major(m["version"]) >= 2 for m in mmcv)),
    }
    sys.stdout.write(json.dumps(doc))
    sys.stdout.write("\n")


main()
