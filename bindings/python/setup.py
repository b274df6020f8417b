"""Builds the sluice release library with cargo and ships it inside the package.

The package is pure Python (ctypes) plus `libsluice.so`, built from the Rust crate two directories
up: `pip install ./bindings/python` runs `cargo build --release` there and copies the library into
`sluice/`, where the package loads it by absolute path.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent.parent
LIBRARY = "libsluice.so"


def crate_version() -> str:
    manifest = (CRATE / "Cargo.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', manifest, re.MULTILINE)
    if not match:
        sys.exit(f"no version in {CRATE / 'Cargo.toml'}")
    return match.group(1)


def build_library() -> Path:
    """Runs `cargo build --release` and returns the path of the shared library it produced."""
    if not (CRATE / "Cargo.toml").is_file():
        sys.exit(f"sluice: build from a sluice checkout (no Cargo.toml at {CRATE})")
    command = [
        os.environ.get("CARGO", "cargo"), "build", "--release", "--lib",
        "--manifest-path", str(CRATE / "Cargo.toml"), "--message-format=json-render-diagnostics",
    ]
    print("sluice: " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"sluice: cargo build failed ({result.returncode})")
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and "cdylib" in message["target"]["kind"]:
            for filename in message["filenames"]:
                if filename.endswith(LIBRARY):
                    return Path(filename)
    sys.exit(f"sluice: cargo built no {LIBRARY}")


class BuildWithLibrary(build_py):
    """`build_py` that also puts the freshly built library into the package."""

    def run(self) -> None:
        super().run()
        library = build_library()
        destinations = [Path(self.build_lib) / "sluice" / LIBRARY]
        if self.editable_mode:  # `pip install -e`: the package is imported from the source tree
            destinations.append(HERE / "sluice" / LIBRARY)
        for destination in destinations:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(library, destination)


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # the wheel holds a native library
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self) -> tuple:
        # Any Python 3 can load the library through ctypes: only the platform matters.
        return "py3", "none", super().get_tag()[2]


setup(
    version=crate_version(),
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
)
