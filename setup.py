"""Ships the top-level `targets/` and `firmware/` folders inside the wheel as package data.

They live at the top of the repository, where people look for them (DESIGN.md); a plain
`pip install .` must still give a working `edgekit`, so the build copies them under
`edgekit/data/`. An editable install reads them from the repository instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TOP_LEVEL_DATA = ("targets", "firmware")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for name in TOP_LEVEL_DATA:
            source = root / name
            if source.is_dir():
                dest = Path(self.build_lib) / "edgekit" / "data" / name
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(source, dest)


setup(cmdclass={"build_py": BuildPyWithData})
