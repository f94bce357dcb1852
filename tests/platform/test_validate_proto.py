"""buf/validate/validate.proto, printed from the descriptor in the pinned protovalidate wheel, is that
descriptor: protoc builds the same FileDescriptorProto from it, so every rule the contracts state
has the field number and type the validator reads."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import pytest
from buf.validate import validate_pb2
from google.protobuf import descriptor_pb2, text_format
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import write_validate_proto  # noqa: E402

DESCRIPTOR_SET = ROOT / "gen" / "beatflow.pb"


def built_from_source(third_party: Path, out: Path) -> descriptor_pb2.FileDescriptorProto:
    well_known = str(resources.files("grpc_tools") / "_proto")
    argv = ["protoc", f"-I{third_party}", f"-I{well_known}", f"--descriptor_set_out={out}", write_validate_proto.PATH]
    assert protoc.main(argv) == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]


def test_the_printed_file_compiles_to_the_embedded_descriptor(tmp_path):
    written = write_validate_proto.write(tmp_path)
    assert written == tmp_path / "buf" / "validate" / "validate.proto"
    embedded = write_validate_proto.embedded_descriptor()
    assert built_from_source(tmp_path, tmp_path / "set.pb") == embedded
    assert len(embedded.message_type) > 20 and "(buf.validate.predefined)" in written.read_text()


def test_the_stubs_and_the_descriptor_set_carry_the_embedded_descriptor():
    embedded = write_validate_proto.embedded_descriptor()
    stub = descriptor_pb2.FileDescriptorProto()
    validate_pb2.DESCRIPTOR.CopyToProto(stub)
    # CopyToProto leaves out options and json names; the message and field numbers are what matter here.
    assert [(m.name, [(f.name, f.number, f.type) for f in m.field]) for m in stub.message_type] == [
        (m.name, [(f.name, f.number, f.type) for f in m.field]) for m in embedded.message_type
    ]
    files = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file}
    in_set = files[write_validate_proto.PATH]
    in_set.ClearField("source_code_info")  # the Envoy set keeps source positions; the wheel's has none
    assert in_set == embedded


def rules_in_contracts() -> list[tuple[str, validate_pb2.FieldRules]]:
    found = []
    for file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file:
        if not file.name.startswith("beatflow/"):
            continue
        for message in file.message_type:
            for field in message.field:
                rules = validate_pb2.FieldRules.FromString(
                    field.options.Extensions[validate_pb2.field].SerializeToString()
                )
                if rules.ByteSize():
                    found.append((f"{file.package}.{message.name}.{field.name}", rules))
    return found


def test_every_rule_the_contracts_state_is_a_known_field_of_the_embedded_rules():
    """Rules re-read through the embedded descriptor: nothing is left as an unknown field (a number the
    validator would not know) and every rule kind matches its field's proto type."""
    found = rules_in_contracts()
    assert len(found) > 80
    embedded = {m.name: m for m in write_validate_proto.embedded_descriptor().message_type}
    kinds = {f.name for f in embedded["FieldRules"].field}
    for name, rules in found:
        assert text_format.MessageToString(rules, print_unknown_fields=True) == text_format.MessageToString(rules), name
        kind = rules.WhichOneof("type")
        if kind is None:
            assert rules.required, f"{name}: a rule without a type can only be `required`"
            continue
        assert kind in kinds, name


@pytest.mark.parametrize("name", ["uuid", "pattern", "max_len", "min_len"])
def test_string_rules_our_protos_use_keep_their_numbers(name):
    embedded = {m.name: m for m in write_validate_proto.embedded_descriptor().message_type}
    number = {f.name: f.number for f in embedded["StringRules"].field}[name]
    assert validate_pb2.StringRules.DESCRIPTOR.fields_by_name[name].number == number
