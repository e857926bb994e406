"""Board targets: the shipped TOML files, the loader's checks, and the search-path rules."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.errors import EdgekitError
from edgekit.resources import data_dir
from edgekit.targets import (
    ENV_VAR,
    Target,
    get_target,
    load_target_file,
    load_targets,
    targets_dirs,
    targets_table,
)

SHIPPED_DIR = data_dir("targets")
SHIPPED_FILES = sorted(SHIPPED_DIR.glob("*.toml"))

# Written out here rather than imported so the test checks the module's table, not itself.
EXPECTED_QEMU = {
    "cortex-m0plus": "microbit",
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
    "cortex-a53": "aarch64-user",
    "cortex-a72": "aarch64-user",
    "cortex-a76": "aarch64-user",
}

REQUIRED_BOARDS = {
    "rpi-pico",
    "nano33ble",
    "nucleo-l4r5zi",
    "blackpill-f401",
    "nucleo-h743zi",
    "stm32f746g-disco",
    "nrf5340dk",
    "nucleo-u575zi",
    "corstone-300",
    "alif-e7",
    "rpi-zero-2w",
    "rpi3bp",
    "rpi4-1gb",
    "rpi4-2gb",
    "rpi4-4gb",
    "rpi4-8gb",
    "rpi5-2gb",
    "rpi5-4gb",
    "rpi5-8gb",
    "rpi5-16gb",
}

# A valid microcontroller board; tests change one key at a time.
VALID = {
    "title": "Test board",
    "kind": "mcu",
    "soc": "TEST1",
    "core": "cortex-m4",
    "clock_mhz": 100,
    "ram_kib": 128,
    "flash_kib": 512,
    "reserved_ram_kib": 16,
    "reserved_flash_kib": 64,
    "fpu": "fpv4-sp-d16",
    "float_abi": "hard",
    "dsp": True,
    "mve": False,
    "flash_wait_states": 3,
    "qemu_machine": "mps2-an386",
}

_DROP = object()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def board_text(**changes: object) -> str:
    """TOML for VALID with some keys changed, added, or dropped (value _DROP)."""
    fields = {**VALID, **changes}
    lines = ["# test board"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items() if value is not _DROP]
    return "\n".join(lines) + "\n"


def write_board(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_env_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own EDGEKIT_TARGETS_DIR must not leak into these tests.
    monkeypatch.delenv(ENV_VAR, raising=False)


# --- the shipped boards ---------------------------------------------------------------------------


def test_shipped_folder_has_the_required_boards() -> None:
    assert SHIPPED_DIR.is_dir()
    assert {path.stem for path in SHIPPED_FILES} >= REQUIRED_BOARDS


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_every_shipped_board_loads(path: Path) -> None:
    target = load_target_file(path)
    assert target.name == path.stem
    assert target.source == path
    assert target.title and target.soc


def test_load_targets_returns_every_shipped_board_sorted() -> None:
    targets = load_targets()
    assert list(targets) == sorted(path.stem for path in SHIPPED_FILES)


def test_board_names_are_unique_even_ignoring_case() -> None:
    # Two files differing only in case would collide on macOS and Windows checkouts.
    stems = [path.stem.lower() for path in SHIPPED_FILES]
    assert len(stems) == len(set(stems))


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_every_shipped_board_names_its_sources(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "# Sources:" in text, "each board file must name the documents its figures come from"


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_usable_sizes_are_positive(path: Path) -> None:
    target = load_target_file(path)
    assert target.usable_ram_bytes > 0
    assert target.usable_flash_bytes > 0
    assert target.usable_ram_bytes == target.ram_bytes - target.reserved_ram_bytes
    assert target.usable_flash_bytes == target.flash_bytes - target.reserved_flash_bytes
    assert target.ram_bytes % 1024 == 0 and target.flash_bytes % 1024 == 0


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_each_core_maps_to_its_qemu_machine(path: Path) -> None:
    target = load_target_file(path)
    assert target.qemu_machine == EXPECTED_QEMU[target.core]
    assert target.is_mcu == target.core.startswith("cortex-m")
    assert target.is_mcu == (target.kind == "mcu")


def test_boards_on_a_stand_in_machine_say_so() -> None:
    # Only the Corstone-300 is the very system its QEMU machine models.
    for target in load_targets().values():
        if target.is_mcu and target.name != "corstone-300":
            assert target.emulation_note, f"{target.name} needs an emulation_note"


# --- gcc flags -------------------------------------------------------------------------------------


def _target_from(tmp_path: Path, name: str, **changes: object) -> Target:
    return load_target_file(write_board(tmp_path, name, board_text(**changes)))


def test_gcc_flags_per_core(tmp_path: Path) -> None:
    shipped = load_targets()
    assert shipped["rpi-pico"].gcc_flags() == ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"]
    assert shipped["nucleo-l4r5zi"].gcc_flags() == [
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfpu=fpv4-sp-d16",
        "-mfloat-abi=hard",
    ]
    assert shipped["nucleo-h743zi"].gcc_flags() == [
        "-mcpu=cortex-m7",
        "-mthumb",
        "-mfpu=fpv5-d16",
        "-mfloat-abi=hard",
    ]
    assert shipped["stm32f746g-disco"].gcc_flags()[2] == "-mfpu=fpv5-sp-d16"
    assert shipped["nucleo-u575zi"].gcc_flags() == [
        "-mcpu=cortex-m33",
        "-mthumb",
        "-mfpu=fpv5-sp-d16",
        "-mfloat-abi=hard",
    ]
    assert shipped["corstone-300"].gcc_flags() == [
        "-mcpu=cortex-m55",
        "-mthumb",
        "-mfpu=auto",
        "-mfloat-abi=hard",
    ]
    assert shipped["rpi4-4gb"].gcc_flags() == ["-mcpu=cortex-a72"]
    assert shipped["rpi5-8gb"].gcc_flags() == ["-mcpu=cortex-a76"]

    m33_no_dsp = _target_from(
        tmp_path, "m33", core="cortex-m33", qemu_machine="mps2-an505", fpu="fpv5-sp-d16", dsp=False
    )
    assert m33_no_dsp.gcc_flags()[0] == "-mcpu=cortex-m33+nodsp"
    m55_no_mve = _target_from(tmp_path, "m55", core="cortex-m55", qemu_machine="mps3-an547", fpu="auto")
    assert m55_no_mve.gcc_flags()[0] == "-mcpu=cortex-m55+nomve"
    m4_soft = _target_from(tmp_path, "m4soft", fpu="none", float_abi="soft")
    assert m4_soft.gcc_flags() == ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_gcc_accepts_the_flags(path: Path, tmp_path: Path) -> None:
    target = load_target_file(path)
    if not target.is_mcu:
        pytest.skip("Linux boards build with an aarch64 compiler")
    source = tmp_path / "probe.c"
    source.write_text("float scale(float x, int n) { return x * (float)n; }\n")
    result = subprocess.run(
        ["arm-none-eabi-gcc", *target.gcc_flags(), "-c", str(source), "-o", str(tmp_path / "probe.o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- malformed board files -------------------------------------------------------------------------

BAD_BOARDS = [
    pytest.param("title = \ncore = 'x'\n", "line 1", id="toml-syntax"),
    pytest.param(board_text() + "ram_kib = 4\n", "line", id="toml-duplicate-key"),
    pytest.param(board_text(ram_kib=_DROP), "missing key 'ram_kib'", id="missing-key"),
    pytest.param(board_text(ram_kib="128"), "'ram_kib' must be an integer", id="string-for-int"),
    pytest.param(board_text(ram_kib=128.5), "'ram_kib' must be an integer", id="float-for-int"),
    pytest.param(board_text(flash_kib=True), "'flash_kib' must be an integer", id="bool-for-int"),
    pytest.param(board_text(dsp="yes"), "'dsp' must be true or false", id="string-for-bool"),
    pytest.param(board_text(clock_mhz="fast"), "'clock_mhz' must be a number", id="string-for-number"),
    pytest.param(board_text(ram_kb=128), "unknown key 'ram_kb'", id="unknown-key"),
    pytest.param(board_text(ram_kib=0), "'ram_kib' must be positive", id="zero-ram"),
    pytest.param(board_text(flash_kib=-1), "'flash_kib' must be positive", id="negative-flash"),
    pytest.param(board_text(clock_mhz=0), "'clock_mhz' must be a positive", id="zero-clock"),
    pytest.param(board_text(reserved_ram_kib=-4), "must not be negative", id="negative-reserve"),
    pytest.param(board_text(reserved_ram_kib=128), "must be smaller than 'ram_kib'", id="reserve-eq-ram"),
    pytest.param(
        board_text(reserved_flash_kib=600), "must be smaller than 'flash_kib'", id="reserve-gt-flash"
    ),
    pytest.param(board_text(core="cortex-m5"), "unknown core 'cortex-m5'", id="unknown-core"),
    pytest.param(board_text(kind="rtos"), "unknown kind 'rtos'", id="unknown-kind"),
    pytest.param(board_text(core="cortex-a72"), "not a microcontroller core", id="mcu-with-a-core"),
    pytest.param(board_text(kind="linux", core="cortex-m4"), "does not run Linux", id="linux-with-m-core"),
    pytest.param(board_text(qemu_machine="mps2-an500"), "does not emulate cortex-m4", id="wrong-qemu"),
    pytest.param(board_text(fpu="fpv5-d16"), "does not fit cortex-m4", id="wrong-fpu"),
    pytest.param(board_text(float_abi="hardest"), "unknown float_abi", id="unknown-float-abi"),
    pytest.param(board_text(fpu="none"), "needs float_abi 'soft'", id="no-fpu-hard-abi"),
    pytest.param(board_text(mve=True), "needs a cortex-m55", id="mve-on-m4"),
    pytest.param(board_text(dsp=False), "dsp = false does not fit cortex-m4", id="m4-without-dsp"),
    pytest.param(board_text(title="  "), "'title' must not be empty", id="empty-title"),
    pytest.param(board_text(flash_wait_states=-1), "'flash_wait_states'", id="negative-wait-states"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_BOARDS)
def test_malformed_board_is_one_line_error_naming_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write_board(tmp_path / "boards", "broken", text)
    with pytest.raises(EdgekitError) as caught:
        load_targets([tmp_path / "boards"])
    message = caught.value.message()
    assert caught.value.path == str(path)
    assert str(path) in message
    assert fragment in message
    assert "\n" not in message


def test_syntax_error_reports_the_line(tmp_path: Path) -> None:
    text = board_text().replace('soc = "TEST1"', "soc = TEST1")
    line = text.splitlines().index("soc = TEST1") + 1
    path = write_board(tmp_path, "typo", text)
    with pytest.raises(EdgekitError, match=f"invalid TOML: .*line {line}"):
        load_target_file(path)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write_board(tmp_path, "typo", board_text(reserved_ram_kib=_DROP, reserve_ram_kib=16))
    with pytest.raises(EdgekitError, match="did you mean 'reserved_ram_kib'"):
        load_target_file(path)


def test_non_utf8_board_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(board_text(title="Caf\u00e9").encode("latin-1"))
    with pytest.raises(EdgekitError, match="not UTF-8"):
        load_target_file(path)


def test_bad_board_file_name(tmp_path: Path) -> None:
    path = write_board(tmp_path, "my board", board_text())
    with pytest.raises(EdgekitError, match="board name"):
        load_target_file(path)


def test_optional_emulation_note(tmp_path: Path) -> None:
    plain = _target_from(tmp_path, "plain")
    assert plain.emulation_note == ""
    noted = _target_from(tmp_path, "noted", emulation_note="Runs on a stand-in machine.")
    assert noted.emulation_note == "Runs on a stand-in machine."


# --- search path and overrides ---------------------------------------------------------------------


def test_targets_dirs_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_a, env_b, extra = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder in (env_a, env_b, extra):
        folder.mkdir()
    monkeypatch.setenv(ENV_VAR, f"{env_a}{os.pathsep}{os.pathsep}{env_b}")
    assert targets_dirs([extra]) == [SHIPPED_DIR, env_a, env_b, extra]
    # A single path (not a list) is one folder, not a string of characters.
    assert targets_dirs(str(extra))[-1] == extra


def test_env_dir_overrides_builtin_and_extra_dir_overrides_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builtin_ram = get_target("nano33ble").ram_bytes
    env_dir, extra_dir = tmp_path / "env", tmp_path / "extra"
    write_board(env_dir, "nano33ble", board_text(title="From env", ram_kib=300))
    write_board(env_dir, "only-in-env", board_text())
    write_board(extra_dir, "nano33ble", board_text(title="From extra", ram_kib=400))
    monkeypatch.setenv(ENV_VAR, str(env_dir))

    from_env = get_target("nano33ble")
    assert from_env.title == "From env"
    assert from_env.ram_bytes == 300 * 1024 != builtin_ram
    assert from_env.source == env_dir / "nano33ble.toml"
    assert "only-in-env" in load_targets()

    from_extra = get_target("nano33ble", [extra_dir])
    assert from_extra.title == "From extra"
    assert from_extra.ram_bytes == 400 * 1024
    # Boards not overridden still come from the built-in folder.
    assert get_target("rpi-pico", [extra_dir]).source.parent == SHIPPED_DIR


def test_missing_targets_dir_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(EdgekitError) as caught:
        load_targets([missing])
    assert caught.value.path == str(missing)
    assert "does not exist" in caught.value.problem
    assert "--targets-dir" in caught.value.problem


def test_targets_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    not_a_dir = write_board(tmp_path, "file", board_text())
    with pytest.raises(EdgekitError, match="not a directory"):
        targets_dirs([not_a_dir])


def test_missing_env_dir_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone"))
    with pytest.raises(EdgekitError, match=ENV_VAR):
        load_targets()


# --- unknown boards and the table ------------------------------------------------------------------


def test_unknown_board_suggests_a_close_name() -> None:
    with pytest.raises(EdgekitError) as caught:
        get_target("nano33")
    assert caught.value.path == "nano33"
    problem = caught.value.problem
    assert problem.startswith("unknown board")
    assert "did you mean 'nano33ble'?" in problem
    assert "nucleo-l4r5zi" in problem and "rpi5-8gb" in problem
    assert "edgekit targets" in problem


def test_unknown_board_suggestion_ignores_case() -> None:
    with pytest.raises(EdgekitError, match="did you mean 'rpi-pico'"):
        get_target("RPI-PICO")


def test_unknown_board_without_a_close_name() -> None:
    with pytest.raises(EdgekitError) as caught:
        get_target("zzzzzzzz")
    assert "did you mean" not in caught.value.problem
    assert "known boards: alif-e7, " in caught.value.problem


def test_targets_table_rows() -> None:
    targets = load_targets()
    rows = targets_table(targets)
    assert [row["name"] for row in rows] == list(targets)
    pico = next(row for row in rows if row["name"] == "rpi-pico")
    target = targets["rpi-pico"]
    assert pico == {
        "name": "rpi-pico",
        "title": target.title,
        "kind": "mcu",
        "core": "cortex-m0plus",
        "clock_mhz": target.clock_mhz,
        "ram_kib": target.ram_bytes // 1024,
        "flash_kib": target.flash_bytes // 1024,
        "usable_ram_kib": (target.ram_bytes - target.reserved_ram_bytes) // 1024,
        "usable_flash_kib": (target.flash_bytes - target.reserved_flash_bytes) // 1024,
        "qemu_machine": "microbit",
    }
    # A plain iterable of targets gives the same rows.
    assert targets_table(list(targets.values())) == rows


def test_as_dict_is_plain_data() -> None:
    facts = get_target("nucleo-h743zi").as_dict()
    assert facts["name"] == "nucleo-h743zi"
    assert facts["usable_ram_bytes"] == facts["ram_bytes"] - facts["reserved_ram_bytes"]
    assert isinstance(facts["source"], str)
