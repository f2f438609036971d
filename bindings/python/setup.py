"""Packaging hooks that pyproject.toml cannot express: refuse to build without the native library, and tag the
wheel for the platform (it carries libfiberws.so) but not for a Python ABI (it uses ctypes only)."""
import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "fiberws", "libfiberws.so")
if not os.path.isfile(LIB):
    raise SystemExit(
        f"fiberws: {LIB} is missing. Copy the built library there first, e.g.\n"
        "    cp -L build/lib/libfiberws.so bindings/python/fiberws/libfiberws.so")

cmdclass = {}
try:
    from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            return ("py3", "none", super().get_tag()[2])

    cmdclass["bdist_wheel"] = PlatformWheel
except ImportError:  # no wheel package: pip falls back to a legacy install, which needs no tag
    pass

setup(cmdclass=cmdclass)
