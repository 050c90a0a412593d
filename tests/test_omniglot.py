import io
import os
import shutil
import subprocess
import sys
import urllib.error
import zipfile
from pathlib import Path

import pytest
import torch

import mlcore as ml
from mlcore.data import omniglot

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_reads_both_sample_zips_as_one_dataset(omniglot_root):
    data = ml.data.load_omniglot(omniglot_root)
    # 136 + 156 characters; Greek (24) and Latin (26) appear in both archives.
    assert data.images.shape == (136 + 156 - 24 - 26, 20, 1, 28, 28)
    assert len(set(data.classes)) == len(data.classes)
    assert sum(c.startswith("Greek/") for c in data.classes) == 24
    assert data.images.min() >= 0 and data.images.max() <= 1
    ink = data.images.mean()
    assert 0.02 < ink < 0.3  # strokes are ink (1) on an empty background (0)


def test_splits_by_alphabet(omniglot_root):
    parts = [ml.data.load_omniglot(omniglot_root, s) for s in ml.data.SPLITS]
    assert all(len(p) > 0 for p in parts)
    alphabets = [set(p.alphabets) for p in parts]
    assert not (alphabets[0] & alphabets[1] or alphabets[0] & alphabets[2]
                or alphabets[1] & alphabets[2])
    assert sum(len(p) for p in parts) == len(ml.data.load_omniglot(omniglot_root))


def test_extracted_folders_read_like_zips(omniglot_root, tmp_path):
    archive = sorted(omniglot_root.glob("*.zip"))[0]
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path)
    from_folder = ml.data.load_omniglot(tmp_path)
    (tmp_path / "zips").mkdir()
    (tmp_path / "zips" / archive.name).write_bytes(archive.read_bytes())
    from_zip = ml.data.load_omniglot(tmp_path / "zips")
    assert from_folder.classes == from_zip.classes
    assert torch.equal(from_folder.images, from_zip.images)


def test_missing_root_says_where_to_put_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="images_background.zip") as error:
        ml.data.load_omniglot(tmp_path / "nowhere")
    assert "download=True" in str(error.value)


def test_offline_download_fails_with_a_clear_message(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(omniglot.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match="copy the archive"):
        ml.data.load_omniglot(tmp_path, download=True)
    assert not list(tmp_path.iterdir())  # nothing half written


def test_download_reads_a_sample_as_it_is(omniglot_root, monkeypatch):
    def unreachable(*args, **kwargs):
        raise AssertionError("a folder holding a sample must not be downloaded into")
    monkeypatch.setattr(omniglot.urllib.request, "urlopen", unreachable)
    assert len(ml.data.load_omniglot(omniglot_root, download=True)) > 0


def test_download_completes_a_partial_official_copy(omniglot_root, tmp_path, monkeypatch):
    fetched = []
    def serve(url, timeout):
        fetched.append(url)
        return io.BytesIO((omniglot_root / "images_background_small1.zip").read_bytes())
    monkeypatch.setattr(omniglot.urllib.request, "urlopen", serve)
    shutil.copy(omniglot_root / "images_background_small2.zip", tmp_path / "images_background.zip")
    ml.data.load_omniglot(tmp_path, download=True)
    assert fetched == [omniglot.URL.format("images_evaluation")]


def test_a_complete_official_copy_is_read_once(omniglot_root, tmp_path, monkeypatch):
    for name, sample in zip(omniglot.ARCHIVES, sorted(omniglot_root.glob("*.zip"))):
        shutil.copy(sample, tmp_path / f"{name}.zip")
    scans, find = [], omniglot._find_drawings
    monkeypatch.setattr(omniglot, "_find_drawings", lambda root: scans.append(root) or find(root))
    ml.data.load_omniglot(tmp_path, download=True)
    assert len(scans) == 1


def fake_omniglot(n_characters):
    """n_characters classes of 2 tiny drawings, in alphabets of 30 characters."""
    images = torch.rand(n_characters, 2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    return ml.data.ImageDataset(images, tuple(f"a{i // 30}/c{i}" for i in range(n_characters)),
                                tuple(f"a{i // 30}" for i in range(n_characters)))


def test_papers_protocol_cuts_all_characters_1100_100_423():
    data = fake_omniglot(1623)
    parts = [ml.data.split_omniglot(data, s) for s in ml.data.SPLITS]
    assert [len(p) for p in parts] == [1100, 100, 423]
    names = [set(p.classes) for p in parts]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert set.union(*names) == set(data.classes)
    assert len(set(parts[2].alphabets)) > 20  # irrespective of alphabet
    assert ml.data.split_omniglot(data, "meta_test").classes == parts[2].classes  # fixed order
    assert "papers' protocol" in ml.data.omniglot_protocol(data)


def test_rotations_are_new_classes_of_the_same_alphabet(tiny_images):
    turned = tiny_images.with_rotations()
    assert len(turned) == 4 * len(tiny_images)
    assert len(set(turned.classes)) == len(turned.classes)
    assert turned.alphabets[4:8] == (tiny_images.alphabets[1],) * 4
    for k in range(4):
        assert torch.equal(turned.images[4 + k], tiny_images.images[1].rot90(k, dims=(-2, -1)))


def test_scaled_down_protocol_on_a_partial_copy(omniglot_root, monkeypatch):
    monkeypatch.setenv("MLCORE_OMNIGLOT", str(omniglot_root))
    parts = {s: ml.data.load_images("omniglot", s, rotations=False) for s in ml.data.SPLITS}
    alphabets = [set(p.alphabets) for p in parts.values()]
    assert not (alphabets[0] & alphabets[1] or alphabets[0] & alphabets[2]
                or alphabets[1] & alphabets[2])
    assert sum(len(p) for p in parts.values()) == 242
    rotated = ml.data.load_images("omniglot", "meta_test")
    assert len(rotated) == 4 * len(parts["meta_test"])
    assert torch.equal(rotated.images[1], parts["meta_test"].images[0].rot90(1, dims=(-2, -1)))
    assert "scaled-down protocol" in ml.data.describe_images("omniglot")
    lake = ml.data.WithinAlphabetSampler(parts["meta_test"], n_way=20, seed=0)
    assert lake.alphabets  # a held-apart alphabet with at least 20 characters


def test_missing_omniglot_offline_says_where_to_put_the_archives(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(omniglot.urllib.request, "urlopen", offline)
    monkeypatch.setenv("MLCORE_OMNIGLOT", str(tmp_path / "omniglot"))
    with pytest.raises(FileNotFoundError, match="copy the archive") as error:
        ml.data.load_images("omniglot", "meta_train")
    assert str(tmp_path / "omniglot" / "images_background.zip") in str(error.value)


def test_load_images_names_the_datasets():
    with pytest.raises(ValueError, match="MLCORE_DATASET"):
        ml.data.load_images("mnist", "meta_train")
    glyphs = ml.data.load_images("glyphs", "meta_test")
    assert glyphs.classes == ml.data.load_glyphs("meta_test").classes  # no rotations added


@pytest.mark.parametrize("chapter", ["05_metric_learning", "05_metric_learning_more"])
def test_chapter_05_runs_on_real_omniglot_under_nbval(chapter, omniglot_root):
    """MLCORE_DATASET=omniglot, fast mode: the chapter runs unchanged and its checks hold on
    the real sample (its scaled-down protocol); the zero-shot section stays on the glyphs."""
    environment = dict(os.environ, MLCORE_DATASET="omniglot", MLCORE_OMNIGLOT=str(omniglot_root),
                       MLCORE_FULL="0", MLCORE_SMOKE="0")
    environment.pop("MLCORE_CHECKPOINTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider",
                          "-q", str(NOTEBOOKS / f"{chapter}.ipynb")],
                         env=environment, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
