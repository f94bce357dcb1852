"""Generate the Python gRPC stubs (with .pyi) and the descriptor set Envoy's transcoder reads.

The stubs of protovalidate's rules (`buf.validate`, which the contracts import) are generated
beside ours, from the validate.proto that write_validate_proto.py prints from the pinned wheel.
Stubs are written to a fresh directory and swapped in whole, so a removed .proto never
leaves a stale module behind.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import write_validate_proto
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
THIRD_PARTY = PROTO_ROOT / "third_party"


def _run_protoc(args: list[str]) -> None:
    well_known = str(resources.files("grpc_tools") / "_proto")
    argv = ["protoc", f"-I{PROTO_ROOT}", f"-I{THIRD_PARTY}", f"-I{well_known}", *args]
    if protoc.main(argv) != 0:
        sys.exit(f"protoc failed: {' '.join(argv)}")


def generate(out: Path, descriptor_set: Path) -> None:
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "beatflow").rglob("*.proto"))
    if not sources:
        sys.exit("no .proto files under protos/beatflow")
    write_validate_proto.write(THIRD_PARTY)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=out.parent))
    try:
        _run_protoc([f"--python_out={staging}", f"--pyi_out={staging}", f"--grpc_python_out={staging}", *sources])
        _run_protoc([f"--python_out={staging}", f"--pyi_out={staging}", write_validate_proto.PATH])
        # Regular packages (not namespace ones) so packaging tools and type checkers find them.
        for root in ("beatflow", "buf"):
            for directory in [staging / root, *(staging / root).rglob("*")]:
                if directory.is_dir():
                    (directory / "__init__.py").touch()
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    descriptor_set.parent.mkdir(parents=True, exist_ok=True)
    _run_protoc(["--include_imports", "--include_source_info", f"--descriptor_set_out={descriptor_set}", *sources])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory for the Python package tree")
    parser.add_argument("--descriptor-set", type=Path, required=True, help="FileDescriptorSet output path")
    args = parser.parse_args()
    generate(args.out.resolve(), args.descriptor_set.resolve())


if __name__ == "__main__":
    main()
