"""The TFLM bundle: model bytes survive the C array round trip through the host C++ compiler, the op
resolver registers exactly the model's ops with the right template count, and output is deterministic.

TFLM's headers are not vendored, so the resolver header is compiled against a stub of
`tflite::MicroMutableOpResolver` generated from edgekit's op table: a method name the generator
spells differently from the table fails to compile.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import shared_model
from test_op_support import hand_graph

from edgekit.codegen import UnsupportedOpError, bundle_filenames, tflm_arena_size, tflm_bundle
from edgekit.codegen.c_array import byte_lines, c_name, camel, is_c_name
from edgekit.errors import EdgekitError
from edgekit.ir import Graph, read_tflite
from edgekit.ir.op_support import TFLM_BUILTIN_OPS, TFLM_CUSTOM_OPS, op_support

CXX = shutil.which("g++")
CXXFLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
needs_cxx = pytest.mark.skipif(CXX is None, reason="no host C++ compiler (g++) on PATH")

# (model, bundle name, an arena figure: tests do not measure, the bundle only does arithmetic on it)
CASES = [
    ("mlcommons_tiny/kws_ref_model.tflite", "model", 24272),
    ("tflite_micro/audio_preprocessor_int8.tflite", "audio_preprocessor", 10224),
    ("tflite_micro/keyword_scrambled.tflite", "keyword_scrambled", 11872),
    ("tflite_micro/hello_world_int8.tflite", "hello", 1936),
    ("tflite_micro/trained_lstm_int8.tflite", "lstm2", 9000),
]


def resolver_stub() -> str:
    """A stand-in for TFLM's micro_mutable_op_resolver.h with one method per entry of edgekit's op
    table. Like the real class it refuses a second registration of the same op and any registration
    beyond the template count, and it records what was registered."""
    methods = sorted({*TFLM_BUILTIN_OPS.values(), *TFLM_CUSTOM_OPS.values()})
    lines = [
        "#ifndef STUB_MICRO_MUTABLE_OP_RESOLVER_H_",
        "#define STUB_MICRO_MUTABLE_OP_RESOLVER_H_",
        "#include <cstring>",
        "typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;",
        "namespace tflite {",
        "template <unsigned int tOpCount>",
        "class MicroMutableOpResolver {",
        " public:",
        "  static constexpr unsigned int kOpCount = tOpCount;",
        "  unsigned int registered() const { return len_; }",
        "  const char* name(unsigned int i) const { return names_[i]; }",
        *[f'  TfLiteStatus {m}() {{ return Record("{m}"); }}' for m in methods],
        " private:",
        "  TfLiteStatus Record(const char* method) {",
        "    for (unsigned int i = 0; i < len_; ++i) {",
        "      if (std::strcmp(names_[i], method) == 0) return kTfLiteError;",
        "    }",
        "    if (len_ >= tOpCount) return kTfLiteError;",
        "    names_[len_++] = method;",
        "    return kTfLiteOk;",
        "  }",
        "  const char* names_[tOpCount] = {};",
        "  unsigned int len_ = 0;",
        "};",
        "}  // namespace tflite",
        "#endif",
    ]
    return "\n".join(lines) + "\n"


def write_stub(root: Path) -> Path:
    include = root / "stub_include"
    header = include / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"
    header.parent.mkdir(parents=True)
    header.write_text(resolver_stub())
    return include


def write_bundle(files: dict[str, bytes], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for filename, content in files.items():
        (directory / filename).write_bytes(content)


def main_source(names: list[str]) -> str:
    """A program that, for each bundle, writes its model array to argv[i+1], fails unless the array is
    16-byte aligned, runs the op registration against the stub and prints what it registered."""
    includes = "".join(f'#include "{n}_data.h"\n#include "{n}_ops.h"\n#include "{n}_arena.h"\n' for n in names)
    body = []
    for i, n in enumerate(names):
        c = camel(n)
        body.append(f"""
  {{
    if (reinterpret_cast<std::uintptr_t>(g_{n}_data) % 16 != 0) return 10;
    std::FILE* f = std::fopen(argv[{i + 1}], "wb");
    if (f == nullptr) return 11;
    if (std::fwrite(g_{n}_data, 1, g_{n}_data_len, f) != g_{n}_data_len) return 12;
    std::fclose(f);
    static_assert(k{c}TensorArenaSize % 16 == 0, "arena size is a multiple of 16");
    static_assert(k{c}TensorArenaSize >= k{c}ArenaMeasuredBytes + 16, "arena has the alignment slack");
    {c}OpResolver resolver;
    if (Register{c}Ops(resolver) != kTfLiteOk) return 13;
    std::printf("bundle {n} slots %u arena %d\\n", {c}OpResolver::kOpCount, k{c}TensorArenaSize);
    for (unsigned int i = 0; i < resolver.registered(); ++i) std::printf("%s\\n", resolver.name(i));
  }}""")
    return (
        "#include <cstdint>\n#include <cstdio>\n"
        + includes
        + f"int main(int argc, char** argv) {{\n  if (argc != {len(names) + 1}) return 2;"
        + "".join(body)
        + "\n  return 0;\n}\n"
    )


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def generated_resolver(ops_h: bytes) -> tuple[int, list[str]]:
    text = ops_h.decode("ascii")
    counts = re.findall(r"tflite::MicroMutableOpResolver<(\d+)>", text)
    assert len(counts) == 1, text
    return int(counts[0]), re.findall(r"resolver\.(Add\w+)\(\)", text)


# ---------------------------------------------------------------------------------------------------
# Generated from reference models


@pytest.mark.parametrize(("relative", "name", "arena"), CASES)
def test_resolver_registers_exactly_the_models_ops(relative: str, name: str, arena: int) -> None:
    path = shared_model(relative)
    graph = read_tflite(path)
    files = tflm_bundle(path.read_bytes(), graph, arena, name=name)
    assert sorted(files) == sorted(bundle_filenames(name).values())
    count, methods = generated_resolver(files[f"{name}_ops.h"])
    distinct = list(graph.op_counts())
    assert count == len(distinct)
    assert len(methods) == len(set(methods)) == count
    by_method = {m: op for op, m in TFLM_BUILTIN_OPS.items()} | {m: f"CUSTOM:{op}" for op, m in TFLM_CUSTOM_OPS.items()}
    assert [by_method[m] for m in methods] == distinct  # same ops, in first-run order
    arena_h = files[f"{name}_arena.h"].decode()
    assert f"constexpr int k{camel(name)}TensorArenaSize = {tflm_arena_size(arena)};" in arena_h
    assert f"constexpr int k{camel(name)}ArenaMeasuredBytes = {arena};" in arena_h


@pytest.mark.parametrize(("relative", "name", "arena"), CASES)
def test_output_is_deterministic_and_has_no_machine_paths(relative: str, name: str, arena: int) -> None:
    path = shared_model(relative)
    data = path.read_bytes()
    first = tflm_bundle(data, read_tflite(path), arena, name=name)
    second = tflm_bundle(bytes(data), read_tflite(path), arena, name=name)
    assert first == second
    for content in first.values():
        text = content.decode("ascii")
        assert str(path.parent) not in text and "/" + path.parent.name + "/" not in text
        assert text.endswith("\n") and "\r" not in text
        assert all(len(line) <= 150 for line in text.splitlines())


@needs_cxx
@pytest.mark.parametrize(("relative", "name", "arena"), CASES)
def test_model_array_round_trips_through_the_compiler(tmp_path: Path, relative: str, name: str, arena: int) -> None:
    path = shared_model(relative)
    graph = read_tflite(path)
    files = tflm_bundle(path.read_bytes(), graph, arena, name=name)
    write_bundle(files, tmp_path / "bundle")
    include = write_stub(tmp_path)
    (tmp_path / "main.cc").write_text(main_source([name]))
    # model_data.cc is its own translation unit: main.cc reaches the array only through the header's
    # extern declaration, as firmware does.
    compiled = run([CXX, *CXXFLAGS, "-I", str(include), "-I", "bundle", "main.cc", f"bundle/{name}_data.cc",
                    "-o", "prog"], tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    ran = run(["./prog", "roundtrip.bin"], tmp_path)
    assert ran.returncode == 0, (ran.returncode, ran.stdout, ran.stderr)
    assert (tmp_path / "roundtrip.bin").read_bytes() == path.read_bytes()
    lines = ran.stdout.splitlines()
    distinct = list(graph.op_counts())
    assert lines[0] == f"bundle {name} slots {len(distinct)} arena {tflm_arena_size(arena)}"
    assert lines[1:] == [row.tflm_method for row in op_support(graph)]


@needs_cxx
@pytest.mark.parametrize(("relative", "name", "arena"), CASES)
def test_ops_header_passes_syntax_check_against_table_stub(tmp_path: Path, relative: str, name: str,
                                                           arena: int) -> None:
    path = shared_model(relative)
    files = tflm_bundle(path.read_bytes(), read_tflite(path), arena, name=name)
    write_bundle(files, tmp_path)
    include = write_stub(tmp_path)
    for header in (f"{name}_ops.h", f"{name}_data.h", f"{name}_arena.h"):
        checked = run([CXX, *CXXFLAGS, "-fsyntax-only", "-x", "c++", "-I", str(include), header], tmp_path)
        assert checked.returncode == 0, (header, checked.stderr)


@needs_cxx
def test_stub_catches_a_misspelled_method(tmp_path: Path) -> None:
    path = shared_model("mlcommons_tiny/kws_ref_model.tflite")
    ops_h = tflm_bundle(path.read_bytes(), read_tflite(path), 24272)["model_ops.h"].decode()
    assert "resolver.AddConv2D()" in ops_h
    (tmp_path / "model_ops.h").write_text(ops_h.replace("resolver.AddConv2D()", "resolver.AddConv2d()"))
    include = write_stub(tmp_path)
    checked = run([CXX, *CXXFLAGS, "-fsyntax-only", "-x", "c++", "-I", str(include), "model_ops.h"], tmp_path)
    assert checked.returncode != 0 and "AddConv2d" in checked.stderr


@needs_cxx
def test_two_bundles_link_into_one_program(tmp_path: Path) -> None:
    """TFLM's micro_speech runs an audio front end and a classifier together: their bundles must not
    clash in symbols, include guards or file names."""
    models = [("tflite_micro/audio_preprocessor_int8.tflite", "audio_preprocessor"),
              ("tflite_micro/micro_speech_quantized.tflite", "micro_speech")]
    sources = []
    for relative, name in models:
        path = shared_model(relative)
        write_bundle(tflm_bundle(path.read_bytes(), read_tflite(path), 8000, name=name), tmp_path)
        sources.append(f"{name}_data.cc")
    include = write_stub(tmp_path)
    (tmp_path / "main.cc").write_text(main_source([n for _, n in models]))
    compiled = run([CXX, *CXXFLAGS, "-I", str(include), "-I", ".", "main.cc", *sources, "-o", "prog"], tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    ran = run(["./prog", "a.bin", "b.bin"], tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for out, (relative, _) in zip(["a.bin", "b.bin"], models, strict=True):
        assert (tmp_path / out).read_bytes() == shared_model(relative).read_bytes()
    assert "bundle audio_preprocessor slots 18" in ran.stdout and "bundle micro_speech slots 4" in ran.stdout


@pytest.mark.skipif(shutil.which("arm-none-eabi-g++") is None, reason="no arm-none-eabi-g++ on PATH")
def test_model_data_compiles_for_cortex_m_as_aligned_global_rodata(tmp_path: Path) -> None:
    path = shared_model("tflite_micro/hello_world_int8.tflite")
    write_bundle(tflm_bundle(path.read_bytes(), read_tflite(path), 1936), tmp_path)
    compiled = run(["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-Os", *CXXFLAGS, "-c", "model_data.cc",
                    "-o", "model_data.o"], tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    sections = run(["arm-none-eabi-objdump", "-h", "model_data.o"], tmp_path).stdout
    rodata = re.search(r"\.rodata\s+([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+2\*\*(\d+)", sections)
    assert rodata is not None, sections
    assert int(rodata.group(1), 16) >= path.stat().st_size and int(rodata.group(2)) >= 4
    # "R": global, read-only (flash), so firmware links against it and no RAM copy is made.
    symbols = run(["arm-none-eabi-nm", "model_data.o"], tmp_path).stdout.split()
    assert {"g_model_data", "g_model_data_len"} <= set(symbols)
    assert symbols[symbols.index("g_model_data") - 1] == "R"
    assert symbols[symbols.index("g_model_data_len") - 1] == "R"


# ---------------------------------------------------------------------------------------------------
# Refusals


def test_ops_tflm_lacks_raise_with_node_numbers() -> None:
    graph = hand_graph(["CONV_2D", "CUSTOM:MyOp", "GELU", "CUSTOM:MyOp", "CUSTOM:ethos-u"])
    with pytest.raises(UnsupportedOpError) as info:
        tflm_bundle(b"\0" * 16, graph, 1024)
    error = info.value
    assert isinstance(error, EdgekitError)
    assert error.opcodes == ["CUSTOM:MyOp", "GELU", "CUSTOM:ethos-u"]
    message = error.message()
    assert "\n" not in message and message.startswith("edgekit: hand.tflite: TFLM has no kernel for ")
    assert "CUSTOM:MyOp (node 1), GELU (node 2), CUSTOM:ethos-u (node 4)" in message
    assert "Ethos-U" in message


def test_bad_names_are_user_errors() -> None:
    graph = hand_graph(["ADD"])
    for bad in ["", "Model", "2model", "my-model", "a b", "x" * 65]:
        with pytest.raises(EdgekitError, match="not usable in C"):
            tflm_bundle(b"\0" * 16, graph, 1024, name=bad)


def test_multi_subgraph_models_are_refused() -> None:
    graph = hand_graph(["WHILE"])
    graph.subgraph_count = 3
    with pytest.raises(EdgekitError, match="3 subgraphs"):
        tflm_bundle(b"\0" * 16, graph, 1024)


def test_graph_without_ops_gets_one_resolver_slot() -> None:
    # MicroMutableOpResolver<0> would declare zero-length arrays.
    graph = Graph(tensors=[], operators=[], inputs=(), outputs=())
    count, methods = generated_resolver(tflm_bundle(b"\1" * 5, graph, 16)["model_ops.h"])
    assert (count, methods) == (1, [])


def test_path_in_comment_is_the_file_name_only_and_cannot_break_a_comment() -> None:
    graph = hand_graph(["ADD"])
    graph.path = "/home/someone/models/odd name\\"
    text = tflm_bundle(b"\0" * 16, graph, 1024)["model_data.h"].decode()
    first = text.splitlines()[0]
    assert first.startswith("// Generated by edgekit from odd_name_ (16 bytes, sha256 ")
    assert "/home" not in text and "\\" not in text


# ---------------------------------------------------------------------------------------------------
# Arena arithmetic and byte formatting


def test_arena_size_margin() -> None:
    assert tflm_arena_size(24272) == 24272 + 768 + 16
    assert tflm_arena_size(1) == 16 + 16 + 16
    for measured in [1, 15, 16, 17, 1000, 1936, 24272, 103680]:
        size = tflm_arena_size(measured)
        assert size % 16 == 0 and size >= measured + measured / 32 + 16
    with pytest.raises(ValueError):
        tflm_arena_size(0)


def test_byte_lines_format() -> None:
    assert byte_lines(b"") == ""
    assert byte_lines(bytes(range(14))) == (
        "  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,\n"
        "  0x0c, 0x0d,\n"
    )
    assert byte_lines(b"\xff\xab", per_line=1, indent="") == "0xff,\n0xab,\n"
    text = byte_lines(bytes(range(256)) * 3)
    assert text == text.lower() and len(text.splitlines()) == -(-768 // 12)


def test_c_names() -> None:
    assert c_name("kws_ref_model") == "kws_ref_model"
    assert c_name("My-Model v2") == "my_model_v2"
    assert c_name("96x96 vww") == "model_96x96_vww"
    assert c_name("---") == "model"
    assert all(is_c_name(c_name(t)) for t in ["a", "x" * 200, "__", "ÿ", "1", "Model.tflite"])
    assert camel("kws_ref_model") == "KwsRefModel" and camel("model") == "Model" and camel("lstm2") == "Lstm2"
