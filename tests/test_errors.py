"""User mistakes: one line `edgekit: PATH: PROBLEM`, exit 2, no traceback, nothing left in --out."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_MODEL, assert_user_error, run_edgekit, shared_model


def _convert(edgekit_cli, model: Path, out: Path, *extra: str | Path):
    return edgekit_cli("convert", model, "--out", out, "--quiet", *extra)


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    assert leftovers == []


def test_missing_model(edgekit_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _convert(edgekit_cli, tmp_path / "nope.keras", out, "--calib", "random")
    assert_user_error(run, "nope.keras", "no such file")
    _assert_nothing_written(out)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("bad.keras", b"this is not a zip", "not a Keras 3 model archive"),
        ("bad.keras", b"PK\x03\x04" + b"\0" * 64, "cannot load the Keras model"),
        ("bad.h5", b"not hdf5 at all", "not an HDF5 file"),
        ("bad.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "corrupt HDF5 file"),
        ("bad.onnx", b"\x08\x07garbage that is not protobuf", "not a valid ONNX model"),
        ("bad.tflite", b"\0\0\0\0XXXX", "not a TFLite flatbuffer"),
        ("empty.tflite", b"", "empty"),
        ("model.pt", b"\x80\x04pickle", "unknown model format"),
    ],
)
def test_corrupt_or_unknown_model(edgekit_cli, tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    model = tmp_path / name
    model.write_bytes(content)
    out = tmp_path / "out"
    run = _convert(edgekit_cli, model, out, "--calib", "random")
    assert_user_error(run, name, problem)
    _assert_nothing_written(out)


def test_truncated_tflite(edgekit_cli, tmp_path: Path) -> None:
    source = shared_model("mlcommons_tiny/kws_ref_model.tflite").read_bytes()
    model = tmp_path / "cut.tflite"
    model.write_bytes(source[: len(source) // 3])
    out = tmp_path / "out"
    run = _convert(edgekit_cli, model, out)
    assert_user_error(run, "cut.tflite")
    _assert_nothing_written(out)


def test_missing_calibration_says_what_to_pass(edgekit_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _convert(edgekit_cli, EXAMPLE_MODEL, out)
    assert_user_error(run, "digits_cnn.keras", "--calib")
    _assert_nothing_written(out)


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        ({"x": np.zeros((10, 8, 8), np.float32)}, "the model input needs (N, 8, 8, 1)"),
        ({"x": np.zeros((10, 28, 28, 1), np.float32)}, "shape (10, 28, 28, 1)"),
        ({"x": np.zeros((10, 8, 8, 1), np.uint8)}, "integers"),
        ({"x": np.array(["a", "b"])}, "numeric"),
        ({"x": np.zeros((0, 8, 8, 1), np.float32)}, "zero samples"),
        ({"x": np.full((4, 8, 8, 1), np.nan, np.float32)}, "NaN"),
        ({"images": np.zeros((4, 8, 8, 1), np.float32)}, "no array named 'x'"),
        ({"x": np.zeros((4, 8, 8, 1), np.float32), "y": np.zeros(3)}, "labels"),
    ],
)
def test_bad_calibration_data(edgekit_cli, tmp_path: Path, arrays: dict[str, np.ndarray], problem: str) -> None:
    data = _npz(tmp_path / "calib.npz", **arrays)
    out = tmp_path / "out"
    run = _convert(edgekit_cli, EXAMPLE_MODEL, out, "--calib", data)
    assert_user_error(run, "calib.npz", problem)
    _assert_nothing_written(out)


def test_pickled_data_is_refused(edgekit_cli, tmp_path: Path) -> None:
    data = tmp_path / "objects.npy"
    np.save(data, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    run = _convert(edgekit_cli, EXAMPLE_MODEL, tmp_path / "out", "--calib", data)
    assert_user_error(run, "objects.npy", "pickled")


def test_unknown_board(edgekit_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _convert(edgekit_cli, EXAMPLE_MODEL, out, "--calib", EXAMPLE_CALIB, "--target", "nucleo-l4r5z")
    assert_user_error(run, "nucleo-l4r5z", "unknown board", "nucleo-l4r5zi")
    _assert_nothing_written(out)


def test_malformed_board_file(edgekit_cli, tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "broken.toml").write_text('title = "x"\nram_kib = = 3\n')
    run = edgekit_cli("targets", "--targets-dir", boards)
    assert_user_error(run, "broken.toml")


def test_output_folder_that_cannot_be_created(edgekit_cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should go")
    run = _convert(edgekit_cli, EXAMPLE_MODEL, blocker / "out", "--calib", EXAMPLE_CALIB)
    assert_user_error(run, "file")


def test_output_folder_with_someone_elses_files(edgekit_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    run = _convert(edgekit_cli, EXAMPLE_MODEL, out, "--calib", EXAMPLE_CALIB)
    assert_user_error(run, "out", "not empty")
    assert (out / "thesis.tex").read_text() == "precious"


def test_keras_lambda_layer_is_refused_without_running_it(edgekit_cli, tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    model_path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(model_path)
    run = _convert(edgekit_cli, model_path, tmp_path / "out", "--calib", "random")
    assert_user_error(run, "lambda.keras", "Lambda")


def test_h5_lambda_layer_is_refused_before_loading(edgekit_cli, tmp_path: Path) -> None:
    import tf_keras

    marker = tmp_path / "ran.txt"
    marker_name = str(marker)  # a plain string, so that the closure can be saved with the layer

    def side_effect(x):  # runs whenever the layer is called, including when a model is rebuilt on load
        with open(marker_name, "w") as f:
            f.write("code from the model file ran")
        return x

    inputs = tf_keras.Input((4,))
    model = tf_keras.Model(inputs, tf_keras.layers.Lambda(side_effect)(inputs))
    model_path = tmp_path / "lambda.h5"
    model.save(model_path)
    marker.unlink()
    run = _convert(edgekit_cli, model_path, tmp_path / "out", "--calib", "random")
    assert_user_error(run, "lambda.h5", "Lambda")
    assert not marker.exists()


def test_usage_error_exits_2(tmp_path: Path) -> None:
    run = run_edgekit("convert")
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert "Missing argument" in run.stderr


def test_not_a_zip_keras(tmp_path: Path) -> None:
    # A real subprocess too, so that exit code and stderr are what a shell sees.
    model = tmp_path / "m.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{not json")
    run = run_edgekit("convert", model, "--calib", "random", "--out", tmp_path / "out")
    assert_user_error(run, "m.keras")


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("example", "digits_cnn.keras"),
        ("mlcommons_tiny/pretrainedResnet.h5", "resnet.h5"),
        ("onnx_models/mnist-8.onnx", "mnist.onnx"),
    ],
)
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_real_model_files(edgekit_cli, tmp_path: Path, source: str, name: str, keep: float) -> None:
    original = (EXAMPLE_MODEL if source == "example" else shared_model(source)).read_bytes()
    model = tmp_path / name
    model.write_bytes(original[: int(len(original) * keep)])
    out = tmp_path / "out"
    run = _convert(edgekit_cli, model, out, "--calib", "random")
    assert_user_error(run, name)
    _assert_nothing_written(out)


def test_truncated_savedmodel(edgekit_cli, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "kws"
    shutil.copytree(shared_model("mlcommons_tiny/kws_ref_model"), folder)
    pb = folder / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:5000])
    run = _convert(edgekit_cli, folder, tmp_path / "out", "--calib", "random")
    assert_user_error(run, "saved_model.pb")


def test_zip_bit_flip_in_keras_archive(edgekit_cli, tmp_path: Path) -> None:
    data = bytearray(EXAMPLE_MODEL.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the weights member: the zip CRC no longer matches
    model = tmp_path / "flipped.keras"
    model.write_bytes(bytes(data))
    run = _convert(edgekit_cli, model, tmp_path / "out", "--calib", "random")
    assert_user_error(run, "flipped.keras")
