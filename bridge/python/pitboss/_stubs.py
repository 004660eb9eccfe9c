"""The gRPC stubs of pitboss.v1, generated from the .proto files, never committed.

Looked for, in order: $PITBOSS_PYGEN (a folder holding pitboss_pb2.py, as the build makes in
build/python), the build folder next to this source tree, then generated once from the package's own
copy of the .proto files into a cache folder (~/.cache/pitboss, or $PITBOSS_STUB_CACHE) with
grpc_tools (Debian: python3-grpc-tools).
"""
import hashlib
import importlib
import os
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_DIR = os.path.join(_HERE, "_proto")
_PROTOS = ("pitboss.proto", "health.proto", "jobs.proto")


def _has_stubs(folder):
    return folder and all(os.path.exists(os.path.join(folder, f"{p[:-6]}_pb2.py")) for p in _PROTOS)


def _generate():
    digest = hashlib.sha256()
    for p in _PROTOS:
        with open(os.path.join(_PROTO_DIR, p), "rb") as f:
            digest.update(f.read())
    base = os.environ.get("PITBOSS_STUB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pitboss")
    folder = os.path.join(base, "stubs-" + digest.hexdigest()[:16])
    if _has_stubs(folder):
        return folder
    try:
        from grpc_tools import protoc
    except ImportError as exc:
        raise ImportError("pitboss needs its gRPC stubs: build pitboss (scripts/build.sh makes build/python), set "
                          "PITBOSS_PYGEN to that folder, or install grpc_tools (apt-get install python3-grpc-tools)"
                          ) from exc
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=base)
    args = ["protoc", f"-I{_PROTO_DIR}", f"--python_out={tmp}", f"--grpc_python_out={tmp}"]
    if protoc.main(args + [os.path.join(_PROTO_DIR, p) for p in _PROTOS]) != 0:
        raise ImportError(f"grpc_tools could not generate the pitboss stubs from {_PROTO_DIR}")
    try:
        os.rename(tmp, folder)
    except OSError:  # another process made it first
        pass
    return folder if _has_stubs(folder) else tmp


def _locate():
    env = os.environ.get("PITBOSS_PYGEN")
    if _has_stubs(env):
        return env
    build = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(_HERE))), "build", "python")
    if _has_stubs(build):
        return build
    return _generate()


_folder = _locate()
if _folder not in sys.path:
    sys.path.insert(0, _folder)
pb = importlib.import_module("pitboss_pb2")
pb_grpc = importlib.import_module("pitboss_pb2_grpc")
health_pb = importlib.import_module("health_pb2")
health_grpc = importlib.import_module("health_pb2_grpc")
jobs_pb = importlib.import_module("jobs_pb2")
jobs_grpc = importlib.import_module("jobs_pb2_grpc")
