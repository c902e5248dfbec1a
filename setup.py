"""Ships ``tao_sparse4d_fix.pth`` at the root of site-packages.

setuptools has no declarative way to place a file beside the packages, so the
build copies it into the build's library root; the wheel's RECORD then lists it
and ``pip uninstall`` removes it.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "tao_sparse4d_fix.pth"


class BuildWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH), preserve_mode=0)


setup(cmdclass={"build_py": BuildWithPth})
