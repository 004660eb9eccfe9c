"""The gRPC stubs of pitboss.v1, generated from the .proto files, never committed.

They live inside the package, as pitboss._generated (never as a top-level pitboss_pb2 that another
project's stubs could shadow):
1. the build generates them into bridge/python/pitboss/_generated (so an installed package built from
   a built tree needs neither grpc_tools nor a writable HOME);
2. otherwise they are generated once, with grpc_tools (Debian: python3-grpc-tools), from the
   package's own copy of the .proto files into a cache folder ($PITBOSS_STUB_CACHE, else
   $XDG_CACHE_HOME/pitboss or ~/.cache/pitboss), and loaded from there as pitboss._generated.
"""
import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_DIR = os.path.join(_HERE, "_proto")
_PROTOS = ("pitboss.proto", "health.proto", "jobs.proto")
_PACKAGE = __name__.rsplit(".", 1)[0] + "._generated"


def _has_stubs(folder):
    return bool(folder) and all(os.path.exists(os.path.join(folder, f"{p[:-6]}_pb2.py")) for p in _PROTOS)


def _make_package(folder):
    """protoc writes top-level imports ("import pitboss_pb2 as"); inside a package they are relative."""
    for name in os.listdir(folder):
        if name.endswith(".py") and "_pb2" in name:
            path = os.path.join(folder, name)
            with open(path) as f:
                text = f.read()
            lines = [("from . " + line) if line.startswith("import ") and "_pb2 as " in line else line
                     for line in text.split("\n")]
            with open(path, "w") as f:
                f.write("\n".join(lines))
    with open(os.path.join(folder, "__init__.py"), "w") as f:
        f.write('"""gRPC stubs generated on first use from the package\'s .proto files."""\n')


def _cache_base():
    return os.environ.get("PITBOSS_STUB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pitboss")


def _generate():
    digest = hashlib.sha256()
    for p in _PROTOS:
        with open(os.path.join(_PROTO_DIR, p), "rb") as f:
            digest.update(f.read())
    base = _cache_base()
    folder = os.path.join(base, "stubs-" + digest.hexdigest()[:16])
    if _has_stubs(folder) and os.path.exists(os.path.join(folder, "__init__.py")):
        return folder
    try:
        from grpc_tools import protoc
    except ImportError as exc:
        raise ImportError("pitboss needs its gRPC stubs, and this copy of the package has none: build pitboss "
                          "(scripts/build.sh generates them into the package), or install grpc_tools (apt-get install "
                          "python3-grpc-tools) so that they are generated into PITBOSS_STUB_CACHE") from exc
    try:
        os.makedirs(base, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=base)
    except OSError as exc:
        raise ImportError(f"pitboss cannot write its gRPC stubs to {base} ({exc.strerror}): set PITBOSS_STUB_CACHE "
                          f"to a writable folder, or use a package built by scripts/build.sh (it carries them)"
                          ) from exc
    args = ["protoc", f"-I{_PROTO_DIR}", f"--python_out={tmp}", f"--grpc_python_out={tmp}"]
    if protoc.main(args + [os.path.join(_PROTO_DIR, p) for p in _PROTOS]) != 0:
        raise ImportError(f"grpc_tools could not generate the pitboss stubs from {_PROTO_DIR}")
    _make_package(tmp)
    try:
        os.rename(tmp, folder)
    except OSError:  # another process made it first
        pass
    return folder if _has_stubs(folder) else tmp


def _load():
    """pitboss._generated: the package's own folder when the build made it, else the cache."""
    inside = os.path.join(_HERE, "_generated")
    if _has_stubs(inside) and os.path.exists(os.path.join(inside, "__init__.py")):
        return inside, importlib.import_module(_PACKAGE)
    folder = _generate()
    spec = importlib.util.spec_from_file_location(_PACKAGE, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = module
    spec.loader.exec_module(module)
    return folder, module


_folder, _ = _load()
pb = importlib.import_module(_PACKAGE + ".pitboss_pb2")
pb_grpc = importlib.import_module(_PACKAGE + ".pitboss_pb2_grpc")
health_pb = importlib.import_module(_PACKAGE + ".health_pb2")
health_grpc = importlib.import_module(_PACKAGE + ".health_pb2_grpc")
jobs_pb = importlib.import_module(_PACKAGE + ".jobs_pb2")
jobs_grpc = importlib.import_module(_PACKAGE + ".jobs_pb2_grpc")
