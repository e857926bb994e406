"""Firmware build: real arm-none-eabi-gcc, real linker scripts, sizes read back from the ELF."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_firmware_standin import INPUT_SIZE, sample_inputs, write_standin_model

from edgekit.errors import EdgekitError
from edgekit.firmware import build_firmware, find_toolchain, read_sizes
from edgekit.resources import data_dir
from edgekit.targets import MCU_QEMU_MACHINES, get_target

pytestmark = pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc not installed")


def test_every_emulated_machine_has_a_linker_script() -> None:
    for machine in set(MCU_QEMU_MACHINES.values()):
        assert (data_dir("firmware") / "ld" / f"{machine}.ld").is_file(), machine


def test_missing_toolchain_is_a_clear_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("EDGEKIT_ARM_TOOLCHAIN", raising=False)
    with pytest.raises(EdgekitError) as err:
        find_toolchain()
    assert "arm-none-eabi-gcc" in err.value.message()
    assert "install gcc-arm-none-eabi" in err.value.message()
    assert "scripts/setup.sh" in err.value.message()


@pytest.mark.parametrize("board", ["nano33ble", "rpi-pico", "corstone-300", "nucleo-u575zi", "nucleo-h743zi"])
def test_build_writes_elf_bin_hex_map(tmp_path: Path, board: str) -> None:
    target = get_target(board)
    model = write_standin_model(tmp_path / "model")
    build = build_firmware(model, target, sample_inputs(2), tmp_path / "fw")
    for path in (build.elf, build.bin, build.hex, build.map):
        assert path.is_file() and path.stat().st_size > 0, path
    assert build.elf.read_bytes()[:4] == b"\x7fELF"
    assert build.hex.read_text().startswith(":")
    assert "model_layer_003_fully_connected" in build.map.read_text()
    assert not (tmp_path / "fw" / ".build").exists()
    # The .bin is the flash image: code, constants and .data's initial values, with only alignment gaps.
    assert build.bin.stat().st_size <= build.sizes.flash + 16
    assert build.bin.stat().st_size >= build.sizes.text + build.sizes.rodata - 64
    assert build.flags[: len(target.gcc_flags())] == tuple(target.gcc_flags())
    assert build.n_inputs == 2 and build.input_size == INPUT_SIZE


def test_sizes_come_from_the_linked_elf(tmp_path: Path) -> None:
    target = get_target("nano33ble")
    model = write_standin_model(tmp_path / "model")
    x = sample_inputs(3)
    build = build_firmware(model, target, x, tmp_path / "fw")
    sizes, vectors = read_sizes(build.elf)
    assert sizes == build.sizes
    assert vectors == x.size  # the embedded test vectors are known and left out of the flash figure
    assert build.flash_bytes == sizes.text + sizes.rodata + sizes.data - x.size
    # The stand-in's weights (3,760 + 24 bytes of int8, 18 int32) are constants in flash.
    assert sizes.rodata >= 3760 + 24 + 18 * 4 + x.size
    # The arena (752 + 376 bytes) and the harness's buffers are zero-initialised RAM.
    assert sizes.bss >= 752 + 376
    assert build.ram_bytes(500) == sizes.data + sizes.bss + 500


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    target = get_target("nano33ble")
    model = write_standin_model(tmp_path / "model")
    x = sample_inputs(2)
    first = build_firmware(model, target, x, tmp_path / "a")
    second = build_firmware(model, target, x, tmp_path / "b")
    for a, b in ((first.elf, second.elf), (first.bin, second.bin), (first.hex, second.hex)):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_os_builds_smaller_code_than_o3(tmp_path: Path) -> None:
    target = get_target("nano33ble")
    model = write_standin_model(tmp_path / "model")
    small = build_firmware(model, target, sample_inputs(1), tmp_path / "s", opt="-Os")
    big = build_firmware(model, target, sample_inputs(1), tmp_path / "b", opt="O3")
    assert small.opt == "-Os" and big.opt == "-O3"
    assert small.sizes.text < big.sizes.text


def test_user_mistakes_are_edgekit_errors(tmp_path: Path) -> None:
    model = write_standin_model(tmp_path / "model")
    mcu = get_target("nano33ble")
    with pytest.raises(EdgekitError, match="Linux board"):
        build_firmware(model, get_target("rpi4-4gb"), sample_inputs(1), tmp_path / "fw")
    with pytest.raises(EdgekitError, match="model_INPUT_SIZE is 96"):
        build_firmware(model, mcu, np.zeros((1, 95), np.int8), tmp_path / "fw")
    with pytest.raises(EdgekitError, match="int8"):
        build_firmware(model, mcu, np.zeros((1, INPUT_SIZE), np.float32), tmp_path / "fw")
    with pytest.raises(EdgekitError, match="optimisation level"):
        build_firmware(model, mcu, sample_inputs(1), tmp_path / "fw", opt="-O9")
    with pytest.raises(EdgekitError, match="not a generated model named 'other'"):
        build_firmware(model, mcu, sample_inputs(1), tmp_path / "fw", name="other")


def test_compile_error_in_the_model_names_the_file(tmp_path: Path) -> None:
    model = write_standin_model(tmp_path / "model")
    (model / "standin_kernels.c").write_text("this is not C;\n")
    with pytest.raises(EdgekitError) as err:
        build_firmware(model, get_target("nano33ble"), sample_inputs(1), tmp_path / "fw")
    assert "standin_kernels.c" in err.value.message()
    assert "\n" not in err.value.message()


def test_firmware_too_big_for_the_machine_says_so(tmp_path: Path) -> None:
    model = write_standin_model(tmp_path / "model")
    # 20 KiB of zero-initialised state cannot fit the micro:bit's 16 KiB of RAM.
    (model / "big.c").write_text(
        "#include <stdint.h>\nint8_t big_buffer[20480];\nint8_t *big_ptr(void) { return big_buffer; }\n"
    )
    (model / "model.c").write_text(
        (model / "model.c")
        .read_text()
        .replace("return 0;", "{ extern int8_t *big_ptr(void); big_ptr()[0] = 1; }\n    return 0;")
    )
    with pytest.raises(EdgekitError, match="does not fit the emulated machine's RAM"):
        build_firmware(model, get_target("rpi-pico"), sample_inputs(1), tmp_path / "fw")
