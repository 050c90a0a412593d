import io
import shutil
import urllib.error
import zipfile

import pytest
import torch

import mlcore as ml
from mlcore.data import omniglot


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
