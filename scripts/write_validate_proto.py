"""Write buf/validate/validate.proto from the descriptor the pinned `protovalidate` wheel embeds.

The contracts import protovalidate's rules (`buf.validate`), so protoc and buf need that file's
source; no package ships it (the wheel holds only its FileDescriptorProto, with every option), and
the BSR cannot be reached from the build. This prints the descriptor back as .proto text: the same
messages, enums, extensions, field numbers, types and options (the CEL of each standard rule), so
the descriptor protoc builds from it equals the embedded one (tests/platform/test_validate_proto.py).
Comments are not in the descriptor and so not in the file.

Only what a proto2 file like validate.proto uses is printed; anything else stops the build rather
than being dropped silently.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

PATH = "buf/validate/validate.proto"
_INDENT = "  "
_MAX_FIELD_NUMBER = 536870911
_LABELS = {
    descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL: "optional",
    descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED: "repeated",
    descriptor_pb2.FieldDescriptorProto.LABEL_REQUIRED: "required",
}
_SCALARS = {
    value: name.removeprefix("TYPE_").lower()
    for name, value in descriptor_pb2.FieldDescriptorProto.Type.items()
    if name not in ("TYPE_MESSAGE", "TYPE_ENUM", "TYPE_GROUP")
}


def embedded_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """validate.proto's FileDescriptorProto as the installed protovalidate carries it."""
    from protovalidate._gen.buf.validate import validate_pb  # the wheel's own generated module

    return descriptor_pb2.FileDescriptorProto.FromString(validate_pb.desc().proto.to_binary())


def _pool_with(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pool.DescriptorPool:
    """A pool holding `file` and the well-known files it imports, so its own extensions can be read."""
    from google.protobuf import descriptor_pb2 as descriptor_module
    from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

    pool = descriptor_pool.DescriptorPool()
    for module in (descriptor_module, duration_pb2, field_mask_pb2, timestamp_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    pool.Add(file)
    return pool


class _Printer:
    def __init__(self, file: descriptor_pb2.FileDescriptorProto):
        if file.syntax not in ("", "proto2") or file.service:
            raise SystemExit(f"{file.name}: only proto2 files without services can be printed")
        self._file = file
        pool = _pool_with(file)
        # Options re-read through the pool, where the file's extensions (its CEL rules) are known fields.
        self._options_class = {
            name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"google.protobuf.{name}"))
            for name in ("FileOptions", "MessageOptions", "FieldOptions", "EnumOptions", "EnumValueOptions")
        }

    def render(self) -> str:
        file = self._file
        lines = ['syntax = "proto2";', "", f"package {file.package};", ""]
        lines += [f'import "{dependency}";' for dependency in file.dependency]
        lines.append("")
        lines += [f"option {option};" for option in self._options("FileOptions", file.options)]
        for message in file.message_type:
            lines += ["", *self._message(message, file.package)]
        for enum in file.enum_type:
            lines += ["", *self._enum(enum)]
        for extendee, fields in self._extensions_by_extendee(file.extension):
            lines += ["", f"extend {extendee.lstrip('.')} {{"]
            lines += [_INDENT + self._field(field) for field in fields]
            lines.append("}")
        return "\n".join(lines) + "\n"

    def _extensions_by_extendee(self, extensions) -> Iterator[tuple[str, list]]:
        grouped: dict[str, list] = {}
        for field in extensions:
            grouped.setdefault(field.extendee, []).append(field)
        yield from grouped.items()

    def _message(self, message: descriptor_pb2.DescriptorProto, scope: str) -> list[str]:
        if message.extension or message.options.ByteSize():
            raise SystemExit(f"{message.name}: nested extensions and message options are not printed")
        body: list[str] = []
        oneofs: dict[int, list[str]] = {}
        for field in message.field:
            line = self._field(field, in_oneof=field.HasField("oneof_index"))
            if field.HasField("oneof_index"):
                if field.oneof_index not in oneofs:
                    oneofs[field.oneof_index] = []
                    body.append(f"\0oneof{field.oneof_index}")
                oneofs[field.oneof_index].append(line)
            else:
                body.append(line)
        lines: list[str] = []
        for line in body:
            if line.startswith("\0oneof"):
                index = int(line.removeprefix("\0oneof"))
                lines += [f"oneof {message.oneof_decl[index].name} {{", *(_INDENT + f for f in oneofs[index]), "}"]
            else:
                lines.append(line)
        for nested in message.nested_type:
            lines += self._message(nested, f"{scope}.{message.name}")
        for enum in message.enum_type:
            lines += self._enum(enum)
        for extension_range in message.extension_range:
            end = extension_range.end - 1
            lines.append(f"extensions {extension_range.start} to {'max' if end == _MAX_FIELD_NUMBER else end};")
        lines += _reserved(message.reserved_range, message.reserved_name, exclusive_end=True)
        return [f"message {message.name} {{", *(_INDENT + line for line in lines), "}"]

    def _enum(self, enum: descriptor_pb2.EnumDescriptorProto) -> list[str]:
        lines = [f"option {option};" for option in self._options("EnumOptions", enum.options)]
        for value in enum.value:
            options = self._options("EnumValueOptions", value.options)
            suffix = f" [{', '.join(options)}]" if options else ""
            lines.append(f"{value.name} = {value.number}{suffix};")
        lines += _reserved(enum.reserved_range, enum.reserved_name, exclusive_end=False)
        return [f"enum {enum.name} {{", *(_INDENT + line for line in lines), "}"]

    def _field(self, field: descriptor_pb2.FieldDescriptorProto, in_oneof: bool = False) -> str:
        if field.proto3_optional or field.type == descriptor_pb2.FieldDescriptorProto.TYPE_GROUP:
            raise SystemExit(f"{field.name}: proto3 optional fields and groups are not printed")
        type_name = _SCALARS.get(field.type) or field.type_name
        options = []
        if field.HasField("default_value"):
            default = field.default_value
            quoted = field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING
            options.append(f"default = {json.dumps(default) if quoted else default}")
        options += self._options("FieldOptions", field.options)
        label = "" if in_oneof else f"{_LABELS[field.label]} "
        suffix = f" [{', '.join(options)}]" if options else ""
        return f"{label}{type_name} {field.name} = {field.number}{suffix};"

    def _options(self, kind: str, options: Message) -> list[str]:
        """`name = value` for each option set, custom ones (extensions) as `(full.name) = ...`."""
        decoded = self._options_class[kind].FromString(options.SerializeToString())
        printed = []
        for field, value in decoded.ListFields():
            name = f"({field.full_name})" if field.is_extension else field.name
            values = value if field.is_repeated else [value]
            printed += [f"{name} = {_value(field, item)}" for item in values]
        return printed


def _value(field: FieldDescriptor, value: Any) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return "{" + text_format.MessageToString(value, as_one_line=True, as_utf8=True) + "}"
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return field.enum_type.values_by_number[value].name
    if field.type == FieldDescriptor.TYPE_STRING:
        return json.dumps(value, ensure_ascii=False)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    return str(value)


def _reserved(ranges, names, *, exclusive_end: bool) -> list[str]:
    lines = []
    for reserved in ranges:
        end = reserved.end - 1 if exclusive_end else reserved.end
        lines.append(f"reserved {reserved.start if end == reserved.start else f'{reserved.start} to {end}'};")
    lines += [f'reserved "{name}";' for name in names]
    return lines


def write(third_party: Path) -> Path:
    """Writes validate.proto under `third_party` (only when its text changes) and returns its path."""
    target = third_party / PATH
    text = _Printer(embedded_descriptor()).render()
    if not target.exists() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("third_party", type=Path, help="the folder of imported protos (protos/third_party)")
    print(write(parser.parse_args().third_party))


if __name__ == "__main__":
    main()
