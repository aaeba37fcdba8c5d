# lit configuration for nncc: runs the RUN lines of test/**/*.{nnir,test}
# with the freshly built tools first on PATH. Paths come from
# lit.site.cfg.py, which CMake writes into build/test/.
import os

import lit.formats

config.name = "nncc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".nnir", ".test"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = os.path.join(config.nncc_obj_root, "test")
# Not lit tests: C unit tests, the conformance runner and the fuzz corpus
# replays have their own ctest entries; Inputs/ folders hold data that RUN
# lines read.
config.excludes = ["unit", "onnx-node", "fuzz", "Inputs", "lit.cfg.py",
                   "CMakeLists.txt", "README.md"]

# Tool names in RUN lines (nncc, nncc-opt, nncc-run, FileCheck, not, unit
# test executables) resolve through PATH: the build's tools come first so a
# stale installed copy can never be tested by mistake.
path = [config.nncc_tools_dir, config.nncc_unit_dir,
        os.path.dirname(config.filecheck), os.path.dirname(config.not_tool),
        os.environ.get("PATH", "")]
config.environment["PATH"] = os.pathsep.join(path)

# Variables that test drivers and CI pass through to tests.
for var in ["NNCC_E2E_SKIP_HEAVY", "NNCC_E2E_ONLY", "NNCC_COMPRESSED_BIG",
            "NNCC_COMPRESSED_MODELS", "ASAN_OPTIONS",
            "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR", "HOME"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]
# Two cores shared by everything: BLAS threads would only fight lit's jobs.
config.environment["OPENBLAS_NUM_THREADS"] = os.environ.get(
    "OPENBLAS_NUM_THREADS", "1")

config.substitutions.append(("%python", config.python))
config.substitutions.append(("%protoc", config.protoc))
config.substitutions.append(("%onnx_proto", config.onnx_proto))
config.substitutions.append(("%srcroot", config.nncc_src_root))
config.substitutions.append(("%builddir", config.nncc_obj_root))
config.substitutions.append(("%nnrt_include",
                             os.path.join(config.nncc_src_root, "runtime")))
config.substitutions.append(("%nnrt_lib",
                             os.path.join(config.nncc_rt_dir, "libnncc_rt.a")))
config.substitutions.append(("%cc", config.cc))
# The CMake that configured this build, and its generator, for the test
# that installs nncc and builds examples/cmake against it.
config.substitutions.append(("%cmake_generator",
                             '"%s" -DCMAKE_MAKE_PROGRAM="%s"'
                             % (config.cmake_generator, config.make_program)))
config.substitutions.append(("%cmake", config.cmake))
# Scripts that build harnesses read CC (a wrapper adding the sanitizer flags
# in a sanitized build).
config.environment["CC"] = config.cc

if config.sanitize in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("sanitize")

# Tests of x86-only object code (the MXCSR handling) run on x86 hosts.
if os.uname().machine in ("x86_64", "i386", "i686"):
    config.available_features.add("x86")
