"""The package installs with Debian's pip and setuptools, offline, and works from another directory."""
import os
import subprocess
import sys

import fiberws

HERE = os.path.dirname(os.path.abspath(__file__))


def test_pip_install_target_and_import_elsewhere():
    p = subprocess.run([sys.executable, os.path.join(HERE, "install_check.py"), fiberws.library_path],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "round trip ok" in p.stdout and "install_check: OK" in p.stdout
