"""Real-looking log excerpts, at least two differently shaped ones per catalog id that leaves text.

Shapes vary on purpose: Linux and Windows paths, pip-indented (``      ``) and raw, old and new
tool versions, Chinese-locale consoles. Texts follow the wording of torch ``cpp_extension.py``,
CUDA ``host_config.h``, nvcc, MSVC, mmcv and the issue threads of open-mmlab/mmcv and mmdetection.
Each sample: (catalog id, text, facts that must be read from it).
"""

from __future__ import annotations

from typing import Any

PIP = "      "  # pip indents the output of a failed build by six spaces


def pip_indent(text: str) -> str:
    return "\n".join(PIP + line if line else line for line in text.splitlines())


SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    # ------------------------------------------------------------------ A
    (
        "registry-missing-module",
        """Traceback (most recent call last):
  File "tools/train.py", line 242, in <module>
    main()
  File "/home/user/anaconda3/envs/open-mmlab/lib/python3.8/site-packages/mmcv/utils/registry.py", line 45, in build_from_cfg
    raise KeyError(
KeyError: "MaskRCNN: 'RefineRoIHead is not in the models registry'"
""",
        {"name": "RefineRoIHead", "registry": "models", "parent": "MaskRCNN"},
    ),
    (
        "registry-missing-module",
        r"""Traceback (most recent call last):
  File "D:\work\mmdetection\tools\train.py", line 121, in <module>
    main()
  File "D:\Anaconda3\envs\mmdet3\lib\site-packages\mmengine\registry\build_functions.py", line 100, in build_from_cfg
    raise KeyError(
KeyError: 'CustomHook is not in the mmdet::hook registry. Please check whether the value of `CustomHook` is correct or it was registered as expected. More details can be found at https://mmengine.readthedocs.io/en/latest/advanced_tutorials/config.html#import-the-custom-module'
""",
        {"name": "CustomHook", "registry": "mmdet::hook"},
    ),
    (
        "downstream-version-mismatch",
        """Traceback (most recent call last):
  File "tools/test.py", line 10, in <module>
    import mmdet
  File "/opt/conda/lib/python3.7/site-packages/mmdet/__init__.py", line 25, in <module>
    f'MMCV=={mmcv.__version__} is used but incompatible. ' \\
AssertionError: MMCV==1.2.4 is used but incompatible. Please install mmcv>=1.3.8, <=1.4.0.
""",
        {"mmcv": "1.2.4", "min": "1.3.8", "max": "1.4.0", "max_inclusive": True},
    ),
    (
        "downstream-version-mismatch",
        r"""  File "C:\Users\dev\miniconda3\envs\mmseg\lib\site-packages\mmseg\__init__.py", line 61, in <module>
    assert (mmcv_min_version <= mmcv_version < mmcv_max_version), \
AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4, <2.2.0.
""",
        {"mmcv": "2.2.0", "min": "2.0.0rc4", "max": "2.2.0", "max_inclusive": False},
    ),
    (
        "downstream-version-mismatch",
        """  File "/usr/local/lib/python3.6/dist-packages/mmdet/models/utils/conv_ws.py", line 7, in <module>
    @CONV_LAYERS.register_module('ConvWS')
KeyError: 'ConvWS is already registered in conv layer'
""",
        {"duplicate": "ConvWS"},
    ),
    (
        "setuptools-no-pkg-resources",
        pip_indent("""Traceback (most recent call last):
  File "<string>", line 2, in <module>
  File "/tmp/pip-install-q1w2e3/mmcv-full_8a7b/setup.py", line 5, in <module>
    from pkg_resources import DistributionNotFound, get_distribution
ModuleNotFoundError: No module named 'pkg_resources'
[end of output]"""),
        {},
    ),
    (
        "setuptools-no-pkg-resources",
        r"""C:\src\mmcv>python setup.py develop
Traceback (most recent call last):
  File "C:\src\mmcv\setup.py", line 7, in <module>
    from pkg_resources import DistributionNotFound, get_distribution, parse_version
ModuleNotFoundError: No module named 'pkg_resources'
""",
        {},
    ),
    (
        "build-isolation-no-torch",
        """Building wheels for collected packages: mmcv
  Building wheel for mmcv (setup.py) ... done
  Running setup.py bdist_wheel for mmcv
  Skip building ext ops due to the absence of torch.
  Created wheel for mmcv: filename=mmcv-2.1.0-py2.py3-none-any.whl size=585321
""",
        {},
    ),
    (
        "build-isolation-no-torch",
        pip_indent("""running bdist_wheel
Skip building ext ops due to the absence of torch.
running build
running build_py"""),
        {},
    ),
    (
        "setup-py-python313",
        pip_indent("""Traceback (most recent call last):
  File "<string>", line 2, in <module>
  File "<pip-setuptools-caller>", line 34, in <module>
  File "/tmp/pip-install-abc/mmcv_1234/setup.py", line 36, in <module>
    version=get_version(),
  File "/tmp/pip-install-abc/mmcv_1234/setup.py", line 33, in get_version
    return locals()['__version__']
KeyError: '__version__'"""),
        {},
    ),
    (
        "setup-py-python313",
        r"""(py313) C:\src\mmcv-1.7.2>python setup.py build_ext
Traceback (most recent call last):
  File "C:\src\mmcv-1.7.2\setup.py", line 52, in get_version
    return locals()['__version__']
           ~~~~~~~~^^^^^^^^^^^^^^^
KeyError: '__version__'
""",
        {},
    ),
    (
        "pip-cache-stale-wheel",
        """Collecting mmcv==2.2.0
  Using cached mmcv-2.2.0-py2.py3-none-any.whl
Installing collected packages: mmcv
Successfully installed mmcv-2.2.0
""",
        {"wheel": "mmcv-2.2.0-py2.py3-none-any.whl"},
    ),
    (
        "pip-cache-stale-wheel",
        r"""Looking in indexes: https://pypi.tuna.tsinghua.edu.cn/simple
Processing c:\users\dev\appdata\local\pip\cache\wheels\ab\cd
  Using cached mmcv_full-1.7.1-py2.py3-none-any.whl
""",
        {"wheel": "mmcv_full-1.7.1-py2.py3-none-any.whl"},
    ),
    (
        "mmcv-ops-missing",
        """Traceback (most recent call last):
  File "demo/image_demo.py", line 4, in <module>
    from mmdet.apis import inference_detector
  File "/home/user/.local/lib/python3.10/site-packages/mmcv/utils/ext_loader.py", line 13, in load_ext
    ext = importlib.import_module('mmcv.' + name)
ModuleNotFoundError: No module named 'mmcv._ext'
""",
        {"module": "mmcv._ext"},
    ),
    (
        "mmcv-ops-missing",
        r"""  File "D:\proj\mmdetection\mmdet\models\roi_heads\roi_extractors\base_roi_extractor.py", line 5, in <module>
    from mmcv import ops
ImportError: No module named 'mmcv.ops'
""",
        {"module": "mmcv.ops"},
    ),
    # ------------------------------------------------------------------ B
    (
        "nvcc-arch-unsupported",
        """[2/40] /usr/local/cuda-10.2/bin/nvcc -DMMCV_WITH_CUDA -c mmcv/ops/csrc/pytorch/cuda/nms_cuda.cu -gencode=arch=compute_80,code=sm_80
FAILED: build/temp.linux-x86_64-3.8/mmcv/ops/csrc/pytorch/cuda/nms_cuda.o
nvcc fatal   : Unsupported gpu architecture 'compute_80'
""",
        {"arch": "compute_80", "cc": "8.0", "min_cuda": "11.0", "cuda": "10.2", "fallback_arch": "7.5+PTX"},
    ),
    (
        "nvcc-arch-unsupported",
        r"""    FAILED: D:/src/mmcv/build/temp.win-amd64-cpython-310/Release/mmcv/ops/csrc/pytorch/cuda/roi_align_cuda.obj
    nvcc fatal   : Unsupported gpu architecture 'compute_120'
""",
        {"arch": "compute_120", "cc": "12.0", "min_cuda": "12.8"},
    ),
    (
        "arch-list-invalid",
        """  File "/home/user/venv/lib/python3.10/site-packages/torch/utils/cpp_extension.py", line 1561, in _get_cuda_arch_flags
    raise ValueError(f"Unknown CUDA arch ({arch}) or GPU not supported")
ValueError: Unknown CUDA arch (8.6,8.9) or GPU not supported
""",
        {"arch": "8.6,8.9"},
    ),
    (
        "arch-list-invalid",
        pip_indent("""  File "/tmp/pip-build-env-x/overlay/lib/python3.9/site-packages/torch/utils/cpp_extension.py", line 1947, in _get_cuda_arch_flags
    arch_list[-1] += '+PTX'
IndexError: list index out of range"""),
        {},
    ),
    (
        "cuda-arch-not-compiled",
        """Traceback (most recent call last):
  File "/opt/conda/lib/python3.7/site-packages/mmcv/ops/deform_conv.py", line 76, in forward
    ext_module.deform_conv_forward(
RuntimeError: CUDA error: invalid device function
""",
        {},
    ),
    (
        "cuda-arch-not-compiled",
        r"""C:\Users\dev\mmcv\mmcv\__init__.py:20: UserWarning: On January 1, 2023, MMCV will release v2.0.0
[WARNING]your gpu arch (12, 0) isn't compiled in prebuilt, may cause invalid device function. available: {(7, 5), (8, 0), (8, 6), (8, 9), (9, 0)}
""",
        {"cc": "12.0"},
    ),
    (
        "threads-per-block",
        """  File "/home/user/mmdetection3d/mmdet3d/ops/voxel/voxelize.py", line 48, in forward
    voxel_num = hard_voxelize(points, voxels, coors, num_points_per_voxel,
RuntimeError: CUDA error: invalid configuration argument
""",
        {},
    ),
    (
        "threads-per-block",
        r"""Traceback (most recent call last):
  File "D:\proj\tools\train.py", line 133, in <module>
RuntimeError: CUDA error: invalid configuration argument
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
""",
        {},
    ),
    (
        "ops-cpu-only",
        """  File "/usr/local/lib/python3.8/dist-packages/mmcv/ops/roi_align.py", line 81, in forward
    ext_module.roi_align_forward(
RuntimeError: roi_align_forward_impl: implementation for device cuda:0 not found.
""",
        {"op": "roi_align_forward", "device": "cuda:0"},
    ),
    (
        "ops-cpu-only",
        r"""  File "C:\ProgramData\Anaconda3\envs\mm\lib\site-packages\mmcv\ops\nms.py", line 27, in forward
    inds = ext_module.nms(
RuntimeError: nms is not compiled with GPU support
""",
        {"op": "nms"},
    ),
    # ------------------------------------------------------------------ C
    (
        "cuda-home-missing",
        pip_indent("""  File "/home/user/venv/lib/python3.8/site-packages/torch/utils/cpp_extension.py", line 1780, in _join_cuda_home
    raise EnvironmentError('CUDA_HOME environment variable is not set. '
OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root."""),
        {},
    ),
    (
        "cuda-home-missing",
        """No CUDA runtime is found, using CUDA_HOME='/usr/local'
[1/80] /usr/local/bin/nvcc -I/home/u/venv/lib/python3.11/site-packages/torch/include -c mmcv/ops/csrc/pytorch/cuda/nms_cuda.cu
/home/u/venv/lib/python3.11/site-packages/torch/include/ATen/cuda/CUDAContextLight.h:6:10: fatal error: cuda_runtime_api.h: No such file or directory
""",
        {"header": "cuda_runtime_api.h"},
    ),
    (
        "cuda-headers-missing",
        """/home/u/venv/lib/python3.11/site-packages/torch/include/ATen/cuda/CUDAContextLight.h:10:10: fatal error: cusparse.h: No such file or directory
   10 | #include <cusparse.h>
      |          ^~~~~~~~~~~~
compilation terminated.
""",
        {"header": "cusparse.h"},
    ),
    (
        "cuda-headers-missing",
        r"""C:\Users\dev\venv\Lib\site-packages\torch\include\ATen/cuda/CUDAContextLight.h(7): fatal error C1083: Cannot open include file: 'cublas_v2.h': No such file or directory
""",
        {"header": "cublas_v2.h"},
    ),
    (
        "cuda-version-mismatch",
        pip_indent("""  File "/home/user/venv/lib/python3.8/site-packages/torch/utils/cpp_extension.py", line 387, in _check_cuda_version
    raise RuntimeError(CUDA_MISMATCH_MESSAGE.format(cuda_str_version, torch.version.cuda))
RuntimeError:
The detected CUDA version (10.1) mismatches the version that was used to compile
PyTorch (11.3). Please make sure to use the same CUDA versions."""),
        {},
    ),
    (
        "cuda-version-mismatch",
        r"""C:\Users\dev\venv\lib\site-packages\torch\utils\cpp_extension.py:382: UserWarning: The detected CUDA version (12.1) has a minor version mismatch with the version that was used to compile PyTorch (12.4). Most likely this shouldn't be a problem.
""",
        {"nvcc_cuda": "12.1", "torch_cuda": "12.4", "torch_cuda_major": "12"},
    ),
    (
        "cuda-version-mismatch",
        """RuntimeError:
The detected CUDA version (13.0) mismatches the version that was used to compile PyTorch (12.8). Please make sure to use the same CUDA versions.
""",
        {"nvcc_cuda": "13.0", "torch_cuda": "12.8", "torch_cuda_major": "12"},
    ),
    (
        "gcc-unsupported",
        """/usr/local/cuda-10.2/include/crt/host_config.h:138:2: error: #error -- unsupported GNU version! gcc versions later than 8 are not supported!
  138 | #error -- unsupported GNU version! gcc versions later than 8 are not supported!
      |  ^~~~~
""",
        {"gcc_max": 8, "cuda": "10.2"},
    ),
    (
        "gcc-unsupported",
        pip_indent("""In file included from /home/u/venv/lib/python3.6/site-packages/torch/include/c10/util/C++17.h:4,
/home/u/venv/lib/python3.6/site-packages/torch/include/c10/util/C++17.h:16:2: error: #error "You're running a too old version of GCC. We need GCC 5 or later."
compilation terminated."""),
        {"gcc_min": 5},
    ),
    (
        "msvc-unsupported",
        r"""C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v10.2\include\crt/host_config.h(160): fatal error C1189: #error:  -- unsupported Microsoft Visual Studio version! Only the versions between 2017 and 2019 (inclusive) are supported! The nvcc flag '-allow-unsupported-compiler' can be used to override this version check; however, using an unsupported host compiler may cause compilation failure or incorrect run time execution. Use at your own risk.
""",
        {"cuda": "10.2", "msc_min": 1700, "msc_max": 1929},
    ),
    (
        "msvc-unsupported",
        r"""    C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v9.2\include\crt/host_config.h(133): fatal error C1189: #error:  -- unsupported Microsoft Visual Studio version! Only the versions 2012, 2013, 2015 and 2017 are supported!
""",
        {"cuda": "9.2", "vs_supported": [2012, 2013, 2015, 2017], "msc_max": 1913},
    ),
    (
        "msvc-stl-cuda-mismatch",
        r"""C:\Program Files\Microsoft Visual Studio\2022\Community\VC\Tools\MSVC\14.40.33807\include\yvals_core.h(902): error STL1002: Unexpected compiler version, expected CUDA 12.4 or newer.
""",
        {"cuda_min": "12.4"},
    ),
    (
        "msvc-stl-cuda-mismatch",
        r"""    D:\VS2022\VC\Tools\MSVC\14.41.34120\include\yvals_core.h(906): fatal error C1189: #error:  error STL1002: Unexpected compiler version, expected CUDA 12.4 or newer.
    bbox_overlaps_cuda.cu
""",
        {"cuda_min": "12.4"},
    ),
    (
        "msvc-conforming-preprocessor",
        r"""C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v13.2\bin/../include/cccl\cuda/std/__cccl/preprocessor.h(20): fatal error C1189: #error: MSVC/cl.exe with traditional preprocessor is used. This may lead to unexpected compilation errors. Please switch to the standard conforming preprocessor by passing /Zc:preprocessor to cl.exe. You can define CCCL_IGNORE_MSVC_TRADITIONAL_PREPROCESSOR_WARNING to suppress this warning.
""",
        {"cuda": "13.2"},
    ),
    (
        "msvc-conforming-preprocessor",
        r"""      D:\CUDA\v13.0\include\cccl\cuda\std\__cccl\preprocessor.h(23):
      fatal error C1189: #error: MSVC/cl.exe with traditional preprocessor is used.
""",
        {},
    ),
    (
        "msvc-missing",
        pip_indent("""running build_ext
building 'mmcv._ext' extension
error: Microsoft Visual C++ 14.0 or greater is required. Get it with "Microsoft C++ Build Tools": https://visualstudio.microsoft.com/visual-cpp-build-tools/"""),
        {"vc_version": "14.0"},
    ),
    (
        "msvc-missing",
        r"""nvcc fatal   : Cannot find compiler 'cl.exe' in PATH
""",
        {},
    ),
    (
        "msvc-env-no-sdk",
        r"""  File "C:\Users\dev\venv\lib\site-packages\torch\utils\cpp_extension.py", line 1687, in _write_ninja_file_and_compile_objects
    _run_ninja_build(
UserWarning: It seems that the VC environment is activated but DISTUTILS_USE_SDK is not set.This may lead to multiple activations of the VC env.Please set `DISTUTILS_USE_SDK=1` and try again.
""",
        {},
    ),
    (
        "msvc-env-no-sdk",
        pip_indent(r"""    raise UserWarning(msg)
UserWarning: It seems that the VC environment is activated but DISTUTILS_USE_SDK is not set.This may lead to multiple activations of the VC env.Please set `DISTUTILS_USE_SDK=1` and try again."""),
        {},
    ),
    (
        "cxx-standard",
        pip_indent("""/home/u/venv/lib/python3.10/site-packages/torch/include/c10/util/C++17.h:13:2: error: #error "C++17 or later compatible compiler is required to use PyTorch."
   13 | #error "C++17 or later compatible compiler is required to use PyTorch."
      |  ^~~~~"""),
        {"std": "17"},
    ),
    (
        "cxx-standard",
        """/home/u/venv/lib/python3.11/site-packages/torch/include/ATen/ATen.h:5:2: error: #error C++20 or later compatible compiler is required to use ATen.
""",
        {"std": "20"},
    ),
    (
        "cxx-standard",
        """/home/u/venv/lib/python3.8/site-packages/torch/include/c10/util/variant.h:2256:9: error: 'if constexpr' only available with '-std=c++17' or '-std=gnu++17' [-Werror]
""",
        {"std": "17"},
    ),
    (
        "glibc-cuda-math-clash",
        """/usr/include/x86_64-linux-gnu/bits/mathcalls.h(206): error: exception specification is incompatible with that of previous function "cospi" (declared at line 2601 of /usr/local/cuda-12.8/bin/../targets/x86_64-linux/include/crt/math_functions.h)
/usr/include/x86_64-linux-gnu/bits/mathcalls.h(208): error: exception specification is incompatible with that of previous function "sinpi" (declared at line 2553 of /usr/local/cuda-12.8/bin/../targets/x86_64-linux/include/crt/math_functions.h)
""",
        {"functions": ["cospi", "sinpi"]},
    ),
    (
        "glibc-cuda-math-clash",
        pip_indent(
            """/usr/include/bits/mathcalls.h(83): error: exception specification is incompatible with that of previous function "rsqrt" (declared at line 629 of /opt/cuda/targets/x86_64-linux/include/crt/math_functions.h)"""
        ),
        {"function": "rsqrt"},
    ),
    (
        "ninja-missing",
        """/home/u/venv/lib/python3.9/site-packages/torch/utils/cpp_extension.py:476: UserWarning: Attempted to use ninja as the BuildExtension backend but we could not find ninja.. Falling back to using the slow distutils backend.
  warnings.warn(msg.format('we could not find ninja.'))
""",
        {},
    ),
    (
        "ninja-missing",
        r"""  File "C:\Users\dev\venv\lib\site-packages\torch\utils\cpp_extension.py", line 1756, in verify_ninja_availability
    raise RuntimeError("Ninja is required to load C++ extensions")
RuntimeError: Ninja is required to load C++ extensions
""",
        {},
    ),
    (
        "build-out-of-memory",
        """[57/136] c++ -MMD -MF build/temp.linux-x86_64-cpython-310/mmcv/ops/csrc/pytorch/pybind.o.d -c mmcv/ops/csrc/pytorch/pybind.cpp
FAILED: build/temp.linux-x86_64-cpython-310/mmcv/ops/csrc/pytorch/pybind.o
c++: fatal error: Killed signal terminated program cc1plus
compilation terminated.
""",
        {"program": "cc1plus"},
    ),
    (
        "build-out-of-memory",
        pip_indent("""nvcc error   : 'cicc' died due to signal 9 (Kill signal)
ninja: build stopped: subcommand failed."""),
        {"program": "cicc", "signal": "9"},
    ),
    # ------------------------------------------------------------------ D
    (
        "torch-header-all-slots",
        r"""C:/Users/dev/Anaconda3/envs/mm/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(474): error: member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized

C:/Users/dev/Anaconda3/envs/mm/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(487): error: member "torch::jit::detail::ParameterPolicy::all_slots" may not be initialized

C:/Users/dev/Anaconda3/envs/mm/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(501): error: member "torch::jit::detail::BufferPolicy::all_slots" may not be initialized
""",
        {"header_line": 474, "header_lines": [474, 487, 501], "torch": "1.5"},
    ),
    (
        "torch-header-all-slots",
        r"""    d:\anaconda3\lib\site-packages\torch\include\torch\csrc\jit\api\module.h(514): error: member "torch::jit::detail::AttributePolicy::all_slots" may not be initialized
""",
        {"header_line": 514, "policy": "AttributePolicy"},
    ),
    (
        "torch-header-constexpr-win-cuda",
        r"""    e:\miniconda3\envs\mmcv\lib\site-packages\torch\include\torch\csrc\jit\api\module.h(483): error: a member with an in-class initializer must be const
""",
        {"header_line": 483, "torch": "1.6"},
    ),
    (
        "torch-header-constexpr-win-cuda",
        r"""C:/Python37/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(496): error: a member with an in-class initializer must be const
C:/Python37/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(510): error: a member with an in-class initializer must be const
""",
        {"header_lines": [496, 510]},
    ),
    (
        "torch-header-profile-kind",
        r"""C:/Users/dev/anaconda3/envs/mm/lib/site-packages/torch/include\torch/csrc/jit/ir/ir.h(1347): error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized

1 error detected in the compilation of "C:/Users/dev/AppData/Local/Temp/tmpxft_00003a1c_00000000-10_nms_cuda.cpp1.ii".
""",
        {"header_line": 1347, "cls": "ProfileOptionalOp", "torch": "1.7"},
    ),
    (
        "torch-header-profile-kind",
        r"""      d:\envs\torch17\lib\site-packages\torch\include\torch\csrc\jit\ir\ir.h(1347): error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized
""",
        {"header_line": 1347},
    ),
    (
        "pybind11-cast-complete-type",
        r"""C:/Users/dev/anaconda3/envs/mm/lib/site-packages/torch/include\pybind11/cast.h(1449): error: expression must be a pointer to a complete object type
""",
        {"header_line": 1449},
    ),
    (
        "pybind11-cast-complete-type",
        r"""    d:\python38\lib\site-packages\torch\include\pybind11\cast.h(1449): error: expression must be a pointer to a complete object type
          detected during instantiation of "pybind11::detail::type_caster_base<type>::operator type &() [with type=torch::jit::Module]"
""",
        {"header_line": 1449},
    ),
    (
        "torch-header-compiled-autograd",
        r"""C:\Users\dev\venv\Lib\site-packages\torch\include\torch/csrc/dynamo/compiled_autograd.h(1134): error C2872: 'std': ambiguous symbol
""",
        {"header_line": 1134},
    ),
    (
        "torch-header-compiled-autograd",
        r"""      D:\py312\Lib\site-packages\torch\include\torch\csrc\dynamo\compiled_autograd.h(1108): error C2872: 'std': ambiguous symbol
""",
        {"header_line": 1108},
    ),
    # ------------------------------------------------------------------ E
    (
        "ext-undefined-symbol",
        """ImportError: /home/klfy/anaconda3/envs/bevfusion/lib/python3.8/site-packages/mmcv/_ext.cpython-38-x86_64-linux-gnu.so: undefined symbol: _ZN2at5sliceERKNS_6TensorElN3c108optionalIlEES5_l
""",
        {
            "symbol": "_ZN2at5sliceERKNS_6TensorElN3c108optionalIlEES5_l",
            "cxx11_abi_symbol": False,
            "torch_symbol": True,
        },
    ),
    (
        "ext-undefined-symbol",
        """  File "/usr/lib/python3.10/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
ImportError: /opt/venv/lib/python3.10/site-packages/mmcv/_ext.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c1015SmallVectorBaseIjE8grow_podEPKvmm
""",
        {"cxx11_abi_symbol": False},
    ),
    (
        "ext-undefined-symbol",
        """ImportError: /home/u/.local/lib/python3.9/site-packages/mmcv/_ext.cpython-39-x86_64-linux-gnu.so: undefined symbol: _ZN3c106detail14torchCheckFailEPKcS2_jRKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE
""",
        {"cxx11_abi_symbol": True, "torch_symbol": True},
    ),
    (
        "ext-undefined-symbol",
        r"""  File "C:\Users\dev\venv\lib\site-packages\mmcv\utils\ext_loader.py", line 13, in load_ext
    ext = importlib.import_module('mmcv.' + name)
ImportError: DLL load failed while importing _ext: The specified procedure could not be found.
""",
        {"module": "_ext"},
    ),
    (
        "libtorch-cuda-cu-missing",
        """ImportError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory
""",
        {},
    ),
    (
        "libtorch-cuda-cu-missing",
        """  File "/home/u/miniconda3/envs/mm/lib/python3.8/site-packages/mmcv/utils/ext_loader.py", line 13, in load_ext
    ext = importlib.import_module('mmcv.' + name)
OSError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory
""",
        {},
    ),
    (
        "import-segfault",
        """$ python -c 'import mmcv.ops'
Segmentation fault (core dumped)
""",
        {},
    ),
    (
        "import-segfault",
        r"""(mm) C:\Users\dev\proj>python tools\train.py configs\faster_rcnn.py
Process finished with exit code -1073741819 (0xC0000005)
""",
        {},
    ),
    (
        "cuda-driver-too-old",
        """RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version
""",
        {},
    ),
    (
        "cuda-driver-too-old",
        r"""C:\Users\dev\venv\lib\site-packages\torch\cuda\__init__.py:138: UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx
""",
        {"driver": "11040"},
    ),
    (
        "numpy-abi-mismatch",
        """A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.1 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
""",
        {},
    ),
    (
        "numpy-abi-mismatch",
        r"""  File "C:\Users\dev\venv\lib\site-packages\torch\__init__.py", line 1477, in <module>
    from .functional import *  # noqa: F403
AttributeError: _ARRAY_API not found
""",
        {},
    ),
    (
        "mmddp-torch-internals",
        """  File "/home/u/venv/lib/python3.8/site-packages/mmcv/parallel/distributed.py", line 100, in train_step
    self._sync_params()
  File "/home/u/venv/lib/python3.8/site-packages/torch/nn/modules/module.py", line 1185, in __getattr__
AttributeError: 'MMDistributedDataParallel' object has no attribute '_sync_params'
""",
        {"attribute": "_sync_params"},
    ),
    (
        "mmddp-torch-internals",
        """RuntimeError: replicas[0][0] in this process with sizes [64, 3, 7, 7] appears not to match; rebuilt parameter indices size is not same as original model parameters size.172 versus 4
""",
        {},
    ),
    # ------------------------------------------------------------------ F
    (
        "ddp-unused-parameters",
        """RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one. This error indicates that your module has parameters that were not used in producing loss. You can enable unused parameter detection by passing the keyword argument `find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`
""",
        {},
    ),
    (
        "ddp-unused-parameters",
        r"""2023-05-01 10:00:00,000 - mmdet - ERROR - Traceback
    RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one.
""",
        {},
    ),
    (
        "double-backward-hooks",
        """RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed).
""",
        {},
    ),
    (
        "double-backward-hooks",
        r"""  File "D:\mm\mmcv\runner\hooks\optimizer.py", line 35, in after_train_iter
    runner.outputs['loss'].backward()
RuntimeError: Trying to backward through the graph a second time, but the saved intermediate results have already been freed. Specify retain_graph=True when calling backward the first time.
""",
        {},
    ),
]

SAMPLES += [
    (
        "ext-undefined-symbol",
        """  File "/opt/conda/lib/python3.8/site-packages/mmcv/utils/ext_loader.py", line 13, in load_ext
    ext = importlib.import_module('mmcv.' + name)
ImportError: libcudart.so.10.1: cannot open shared object file: No such file or directory
""",
        {"library": "libcudart.so.10.1"},
    ),
]

# ---------------------------------------------------------------- forms of the message, not of one sample
# Each message in the forms users paste it: with and without a file/line prefix, pip's indented
# re-print, Jenkins timestamps, curly quotes, wrapped lines, Visual Studio's error list, titles.
TS = "[2021-11-23T05:04:25.044Z] "  # a CI console's timestamp prefix

SAMPLES += [
    # torch 1.5 module.h: with the prefix, without it, as the FAQ quotes it, VS error list, curly, mangled
    ("torch-header-all-slots", 'error: member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized\n', {"policy": "ModulePolicy"}),
    ("torch-header-all-slots", 'member "torch::jit::detail::BufferPolicy::all_slots" may not be initialized\n', {"policy": "BufferPolicy"}),
    ("torch-header-all-slots",
     'Error\tmember "torch::jit::detail::ParameterPolicy::all_slots" may not be initialized\tdeeplearning\tD:\\libtorch\\include\\torch\\csrc\\jit\\api\\module.h\t501\n',
     {"policy": "ParameterPolicy"}),
    ("torch-header-all-slots", "member “torch::jit::detail::AttributePolicy::all_slots” may not be initialized\n", {"policy": "AttributePolicy"}),
    ("torch-header-all-slots",
     'member of "the torch: : jit: : detail: : AttributePolicy: : all_slots" may not be initialized\n',
     {"policy": "AttributePolicy"}),
    (
        "torch-header-all-slots",
        pip_indent(r"""C:/Users/u/miniconda3/envs/mm/lib/site-packages/torch/include\torch/csrc/jit/api/module.h(474): error: member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized"""),
        {"header_line": 474, "torch": "1.5"},
    ),
    ("torch-header-profile-kind",
     TS + 'C:/x/site-packages/torch/include\\torch/csrc/jit/ir/ir.h(1347): error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized\n',
     {"header_line": 1347, "cls": "ProfileOptionalOp"}),
    ("torch-header-profile-kind", 'error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized\n', {"cls": "ProfileOptionalOp"}),
    # the four ids added from real reports
    (
        "torch-gpu-unsupported",
        pip_indent("""NVIDIA GeForce RTX 3090 with CUDA capability sm_86 is not compatible with the current PyTorch installation.
The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75.
If you want to use the NVIDIA GeForce RTX 3090 GPU with PyTorch, please check the instructions at https://pytorch.org/get-started/locally/"""),
        {"sm": 86, "cc": "8.6", "gpu": "NVIDIA GeForce RTX 3090"},
    ),
    (
        "torch-gpu-unsupported",
        r"""E:\RVC\runtime\lib\site-packages\torch\cuda\__init__.py:173: UserWarning:
NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.
The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90 compute_37.
""",
        {"sm": 120, "cc": "12.0"},
    ),
    (
        "torch-gpu-unsupported",
        """/opt/conda/lib/python3.10/site-packages/torch/cuda/__init__.py:283: UserWarning:
    Found GPU0 Tesla K40c which is of cuda capability 3.5.
    PyTorch no longer supports this GPU because it is too old.
    The minimum cuda capability supported by this library is 3.7.
""",
        {"cc": "3.5", "gpu": "Tesla K40c"},
    ),
    (
        "torch-gpu-unsupported",
        """UserWarning: Found GPU0 NVIDIA GeForce RTX 5090 which is of compute capability (CC) 12.0.
The following list shows the CCs this version of PyTorch was built for and the hardware CCs it supports:
- 5.0 which supports hardware CC >=5.0,<6.0
Your installed torch==2.6.0+cu124 does not include kernels for this GPU. Reinstall the same version against a CUDA build that does, e.g.:
""",
        {"cc": "12.0"},
    ),
    (
        "torch-gpu-unsupported",  # torch's own kernel, from a torch frame: no mmcv op involved
        """  File "/home/u/miniconda3/envs/mm/lib/python3.8/site-packages/torch/nn/functional.py", line 2450, in batch_norm
    return torch.batch_norm(
RuntimeError: CUDA error: no kernel image is available for execution on the device
""",
        {"explains": "cuda-arch-not-compiled (line 3)"},
    ),
    (
        "torch-load-weights-only",
        """_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only if you trust the source of the checkpoint.
        (1) In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`.
        WeightsUnpickler error: Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer was not an allowed global by default. Please use `torch.serialization.add_safe_globals([HistoryBuffer])`
""",
        {"global": "mmengine.logging.history_buffer.HistoryBuffer", "pickled_by": "mmengine"},
    ),
    ("torch-load-weights-only", "        WeightsUnpickler error: Unsupported global: GLOBAL mmcv.utils.config.ConfigDict was not an allowed global by default.\n", {"global": "mmcv.utils.config.ConfigDict"}),
    ("torch-load-weights-only", "UnpicklingError('Weights only load failed. This file can still be loaded, to do so you have two options')\n", {}),
    ("mmcv2-removed-1x-api", """  File "tools/train.py", line 10, in <module>
    from mmcv.runner import init_dist
ModuleNotFoundError: No module named 'mmcv.runner'
""", {"module": "mmcv.runner"}),
    ("mmcv2-removed-1x-api", "ImportError: cannot import name 'Config' from 'mmcv' (/opt/conda/lib/python3.10/site-packages/mmcv/__init__.py)\n", {"name": "Config", "module": "mmcv"}),
    ("mmcv2-removed-1x-api", "AttributeError: module 'mmcv' has no attribute 'runner'\n", {"name": "runner"}),
    ("mmcv2-removed-1x-api", "ModuleNotFoundError: No module named ‘mmcv.parallel’\n", {"module": "mmcv.parallel"}),
    ("mmcv2-removed-1x-api", "from mmcv.cnn.bricks.registry import ATTENTION\nModuleNotFoundError: No module named 'mmcv.cnn.bricks.registry'\n", {"module": "mmcv.cnn.bricks.registry"}),
    ("yapf-formatcode-verify", """  File "/home/u/miniconda3/envs/fl/lib/python3.9/site-packages/mmcv/utils/config.py", line 502, in pretty_text
    text, _ = FormatCode(text, style_config=yapf_style, verify=True)
TypeError: FormatCode() got an unexpected keyword argument 'verify'
""", {}),
    ("yapf-formatcode-verify", "TypeError: FormatCode() got an unexpected keyword argument ‘verify‘\n", {}),
    ("yapf-formatcode-verify", "# TypeError: FormatCode() got an unexpected keyword argument 'verify'\n", {}),
    # the other kinds the issue names: MMCV_CUDA_ARGS beside the symptom, an ops-less wheel pip built
    (
        "cuda-args-override-arch",
        """ENV TORCH_CUDA_ARCH_LIST="6.0 6.1 7.0+PTX"
ENV FORCE_CUDA="1"
ENV MMCV_CUDA_ARGS="-gencode=arch=compute_61,code=sm_61"
RuntimeError: CUDA error: no kernel image is available for execution on the device
""",
        {"cuda_args": "-gencode=arch=compute_61,code=sm_61", "explains": "cuda-arch-not-compiled (line 4)"},
    ),
    (
        "cuda-args-override-arch",
        """$ export MMCV_CUDA_ARGS='-arch=sm_80'
$ MMCV_WITH_OPS=1 pip install -e .
$ python demo.py
RuntimeError: CUDA error: invalid device function
""",
        {"cuda_args": "-arch=sm_80"},
    ),
    (
        "cuda-args-override-arch",
        """    env:
      FORCE_CUDA: 1
      MMCV_CUDA_ARGS: -gencode=arch=compute_61,code=sm_61
error in nms_cuda: no kernel image is available for execution on the device
""",
        {"cuda_args": "-gencode=arch=compute_61,code=sm_61"},
    ),
    (
        "cuda-args-override-arch",
        r"""PS C:\src\mmcv> $env:MMCV_CUDA_ARGS = "-gencode=arch=compute_75,code=sm_75"
RuntimeError: CUDA error: no kernel image is available for
execution on the device
""",
        {"cuda_args": "-gencode=arch=compute_75,code=sm_75"},
    ),
    (
        "build-isolation-no-torch",
        """Building wheels for collected packages: mmcv
  Building wheel for mmcv (pyproject.toml): finished with status 'done'
  Created wheel for mmcv: filename=mmcv-2.2.0-py2.py3-none-any.whl size=732173 sha256=a43f0d71df3d943af3df722c3824c30f6fcc683cf749cd2016c8b42e5dea8306
Successfully installed mmcv-2.2.0
    ext = importlib.import_module('mmcv.' + name)
ModuleNotFoundError: No module named 'mmcv._ext'
""",
        {"wheel": "mmcv-2.2.0-py2.py3-none-any.whl", "size": "732173", "explains": "mmcv-ops-missing (line 6)"},
    ),
    (
        "build-isolation-no-torch",
        """  Created wheel for mmcv-full: filename=mmcv_full-1.7.2-py2.py3-none-any.whl size=598732 sha256=0b1d
Successfully installed mmcv-full-1.7.2
ModuleNotFoundError: No module named 'mmcv._ext'
""",
        {"wheel": "mmcv_full-1.7.2-py2.py3-none-any.whl"},
    ),
    ("build-isolation-no-torch", pip_indent("running egg_info\nSkip building ext ops due to the absence of torch.\nrunning build_py"), {}),
    # pip's own lines alone (no -v, no traceback yet): the none-any wheel is the evidence
    ("build-isolation-no-torch", """Collecting mmcv==2.2.0
  Downloading mmcv-2.2.0.tar.gz (479 kB)
  Preparing metadata (pyproject.toml): finished with status 'done'
Building wheels for collected packages: mmcv
  Building wheel for mmcv (pyproject.toml): started
  Building wheel for mmcv (pyproject.toml): finished with status 'done'
  Created wheel for mmcv: filename=mmcv-2.2.0-py2.py3-none-any.whl size=732173 sha256=a43f0d71df3d943a
  Stored in directory: /root/.cache/pip/wheels/52/4f/8c/3145c780918db1a98c6c7a009a92bb1f
Successfully built mmcv
Successfully installed mmcv-2.2.0
""", {"wheel": "mmcv-2.2.0-py2.py3-none-any.whl", "size": "732173"}),
    ("build-isolation-no-torch", "  Created wheel for mmcv-full: filename=mmcv_full-1.6.0-py2.py3-none-any.whl size=456104 sha256=9e0c\n",
     {"wheel": "mmcv_full-1.6.0-py2.py3-none-any.whl"}),
    # more forms of existing ids
    ("cuda-version-mismatch", """RuntimeError:
The detected CUDA version (10.1) mismatches the version that was used to compile
PyTorch (11.3). Please make sure to use the same CUDA versions.
""", {"nvcc_cuda": "10.1", "torch_cuda": "11.3", "torch_cuda_major": "11"}),
    ("cuda-version-mismatch", "RuntimeError: ('The detected CUDA version (%s) mismatches the version that was used to compilePyTorch (%s). Please make sure to use the same CUDA versions.', '11.8', '12.8')\n", {}),
    ("cxx-standard", pip_indent("/opt/conda/lib/python3.10/site-packages/torch/include/c10/util/C++17.h:27:2: error: #error You need C++17 to compile PyTorch\n   27 | #error You need C++17 to compile PyTorch"), {"std": "17"}),
    ("cxx-standard", r"C:\x\torch\include\torch\csrc\api\include\torch\all.h(4): fatal error C1189: #error:  C++17 or later compatible compiler is required to use PyTorch." + "\n", {"std": "17"}),
    ("downstream-version-mismatch", "AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4.\n", {"mmcv": "2.2.0", "min": "2.0.0rc4"}),
    ("downstream-version-mismatch", "AssertionError: MMCV==2.0.0 is used but incompatible. Please install mmcv>=[1, 1, 4], <=[1, 3, 0].\n", {"min": "[1, 1, 4]", "max": "[1, 3, 0]"}),
    ("nvcc-arch-unsupported", "nvcc fatal   : Value 'sm_120' is not defined for option 'gpu-name'\n", {"cc": "12.0", "min_cuda": "12.8"}),
    ("nvcc-arch-unsupported", TS + "nvcc fatal : Unsupported gpu architecture ‘compute_86’\n", {"cc": "8.6"}),
    ("gcc-unsupported", "RuntimeError: The current installed version of g++ (13.2.0) is greater than the maximum required version by CUDA 12.4. Please make sure to use an adequate version of g++ (>=6.0.0, <14.0).\n", {"gcc": "13.2.0", "gcc_max": 13}),
    ("pip-cache-stale-wheel", "Processing /root/.cache/pip/wheels/f9/3a/5e/0fd1c7e4e7b3/mmcv_full-1.4.0-py2.py3-none-any.whl\n", {"wheel": "mmcv_full-1.4.0-py2.py3-none-any.whl"}),
    ("cuda-home-missing", "UserWarning: CUDA was not found on the system, please set the CUDA_HOME or the CUDA_PATHenvironment variable or add NVCC to your system PATH. The extension compilation will fail.\n", {}),
    ("mmcv-ops-missing", "ModuleNotFoundError: No module named “mmcv._ext”\n", {"module": "mmcv._ext"}),
]
