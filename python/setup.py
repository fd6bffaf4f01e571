"""Build the agentmem Python package: the _agentmem extension module, linked
with libagentmem's static library, plus the tokenizer rank files as package
data (so that nothing is looked up through environment variables at run
time).

    /usr/bin/python3 -m venv .venv
    .venv/bin/pip install --no-index --no-build-isolation ./python

The C library is built with CMake into <repo>/build-python (or taken from an
existing build directory named by AGENTMEM_BUILD_DIR, which is what
`make test` does). Only Debian's setuptools is needed.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# libcrypto: a library built with encryption at rest has SQLCipher's
# SQLite inside, which needs OpenSSL's libcrypto (harmless otherwise).
DEPS = ["sqlite3", "jansson", "libcurl", "libzstd", "libutf8proc", "libpq",
        "libcrypto"]
# Rank files the tokenizers need; copied next to the package.
DATA_PATTERNS = ["*.tiktoken"]
# The default embedder's word vectors (~40 MB, made by scripts/setup into
# data/; optional: without them MemoryStore() says so and
# MemoryStore(embedder="hash") works). Copied too, so that the installed
# package does not need the clone.
OPTIONAL_DATA = ["wordvec-sg100.bin"]


def _pkg_config(flag):
    out = subprocess.run(["pkg-config", flag] + DEPS, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def _library_build_dir():
    """Where libagentmem.a is: AGENTMEM_BUILD_DIR, else a CMake build of
    the repository made here (incremental on later installs)."""
    given = os.environ.get("AGENTMEM_BUILD_DIR")
    if given:
        return os.path.abspath(given)
    build = os.path.join(REPO, "build-python")
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", REPO, "-B", build,
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True)
    subprocess.run(["cmake", "--build", build, "--target", "agentmem_static",
                    "-j", "2"], check=True)
    return build


class BuildExt(build_ext):
    def build_extensions(self):
        lib = os.path.join(_library_build_dir(), "libagentmem.a")
        if not os.path.exists(lib):
            sys.exit("setup.py: %s is missing (build the C library first)"
                     % lib)
        for ext in self.extensions:
            ext.extra_objects = [lib]
            ext.extra_link_args = _pkg_config("--libs") + ["-lm", "-pthread"]
            ext.depends = ext.depends + [lib]
        super().build_extensions()


class BuildPy(build_py):
    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "agentmem", "data")
        os.makedirs(dest, exist_ok=True)
        found = []
        # The rank files are extracted by the C build into <build>/data;
        # optional data (word vectors) is in the repository's data/.
        dirs = [os.path.join(_library_build_dir(), "data"),
                os.path.join(REPO, "data")]
        for pattern in DATA_PATTERNS:
            for src in [p for d in dirs
                        for p in glob.glob(os.path.join(d, pattern))]:
                found.append(src)
                target = os.path.join(dest, os.path.basename(src))
                if (not os.path.exists(target) or
                        os.path.getmtime(target) < os.path.getmtime(src)):
                    shutil.copy2(src, target)
        if not found:
            sys.exit("setup.py: no rank files in %s; build the C library "
                     "first (it extracts them)" % " or ".join(dirs))
        for name in OPTIONAL_DATA:
            src = os.path.join(REPO, "data", name)
            target = os.path.join(dest, name)
            if os.path.exists(src) and (
                    not os.path.exists(target) or
                    os.path.getmtime(target) < os.path.getmtime(src)):
                shutil.copy2(src, target)


ext = Extension(
    "agentmem._agentmem",
    sources=sorted(glob.glob(os.path.join("src", "*.c"))),
    depends=sorted(glob.glob(os.path.join("src", "*.h"))),
    include_dirs=[os.path.join(REPO, "include")],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra",
                        "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers"],
)

setup(
    name="agentmem",
    version="0.1.0",
    description="Python bindings for agentmem, memory for LLM agents",
    packages=["agentmem"],
    package_data={"agentmem": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy},
    python_requires=">=3.11",
    zip_safe=False,
)
