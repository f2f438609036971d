"""The generated ctypes layer against the library, and loading."""
import ctypes
import os
import shutil
import subprocess
import sys

import fiberws
from fiberws import _ffi

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fiberws.__file__)))


def exported_symbols(path):
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is required for this test"
    out = subprocess.run([nm, "-D", "--defined-only", path], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWi" and parts[2].startswith("fws_"):
            names.add(parts[2].split("@")[0])
    return names


def test_functions_table_equals_exports():
    table = [name for name, _, _ in _ffi.FUNCTIONS]
    assert len(table) == len(set(table))
    assert set(table) == exported_symbols(fiberws.library_path)


def test_bound_signatures():
    lib = fiberws._lib
    for name, restype, argtypes in _ffi.FUNCTIONS:
        fn = getattr(lib, name)
        assert fn.restype == restype and list(fn.argtypes) == list(argtypes), name
    assert isinstance(lib, ctypes.CDLL) and not isinstance(lib, ctypes.PyDLL)


def test_version():
    v = fiberws._lib.fws_version()
    assert v >> 16 == _ffi.FWS_VERSION_MAJOR
    assert v == _ffi.FWS_VERSION_HEX
    assert fiberws.library_version() == f"{v >> 16}.{(v >> 8) & 255}.{v & 255}"
    assert fiberws.__version__ == "0.1.0"


def test_struct_sizes_are_what_init_sets():
    for struct, init in ((_ffi.fws_app_config, "fws_app_config_init"), (_ffi.fws_ws_config, "fws_ws_config_init"),
                         (_ffi.fws_ws_events, "fws_ws_events_init")):
        s = struct()
        getattr(fiberws._lib, init)(ctypes.byref(s))
        assert s.struct_size == ctypes.sizeof(struct), struct.__name__


def import_with(env_overrides):
    env = {k: v for k, v in os.environ.items() if k != "FIBERWS_LIBRARY"}
    env.update(env_overrides)
    env["PYTHONPATH"] = PKG_PARENT
    return subprocess.run([sys.executable, "-c", "import fiberws"], capture_output=True, text=True, env=env,
                          timeout=30, cwd="/")


def test_bad_library_path_is_a_clear_import_error(tmp_path):
    p = import_with({"FIBERWS_LIBRARY": str(tmp_path / "nope.so")})
    assert p.returncode != 0
    assert "ImportError: fiberws: cannot load" in p.stderr and "nope.so" in p.stderr


def test_not_libfiberws_is_a_clear_import_error():
    import ctypes.util
    libz = ctypes.util.find_library("z")
    assert libz, "zlib is required for this test"
    p = import_with({"FIBERWS_LIBRARY": libz})
    assert p.returncode != 0 and "is not libfiberws" in p.stderr, p.stderr


def test_missing_bundled_library_is_a_clear_import_error(tmp_path):
    pkg = tmp_path / "fiberws"
    shutil.copytree(os.path.dirname(fiberws.__file__), pkg,
                    ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "FIBERWS_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path)
    p = subprocess.run([sys.executable, "-c", "import fiberws"], capture_output=True, text=True, env=env,
                       timeout=30, cwd="/")
    assert p.returncode != 0
    assert "libfiberws.so is missing" in p.stderr and "FIBERWS_LIBRARY" in p.stderr
