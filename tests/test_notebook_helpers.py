import pandas as pd
import pytest
import torch

import mlcore as ml


@pytest.mark.parametrize("value, expected",
                         [("1", True), ("0", False), ("", False), ("true", True)])
def test_full_mode_reads_mlcore_full(monkeypatch, value, expected):
    monkeypatch.setenv("MLCORE_FULL", value)
    assert ml.full_mode() is expected


def test_full_mode_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("MLCORE_FULL", "yes please")
    with pytest.raises(ValueError, match="MLCORE_FULL"):
        ml.full_mode()


def test_setup_seeds_torch():
    ml.setup(3)
    a = torch.rand(2)
    ml.setup(3)
    assert torch.equal(a, torch.rand(2))
    assert ml.device().type in ("cpu", "cuda")


def test_report_compares_with_the_paper_and_rejects_unknown_rows():
    import pandas as pd
    ours = pd.DataFrame([{"method": "Pixels (cosine)", "setting": "5-way 1-shot",
                          "mean": 50.0, "ci95": 1.0}])
    table = ml.report.compare(ours, "Omniglot", "glyphs")
    assert table.iloc[0]["paper (Omniglot)"] == "41.7"
    assert table.iloc[0]["source"] == "Vinyals et al. (2016), Table 1"
    assert "1,200 / 423 characters" in table.iloc[0]["paper's protocol"]
    with pytest.raises(ValueError, match="paper_results.csv"):
        ml.report.compare(ours.assign(setting="7-way 1-shot"), "Omniglot", "glyphs")
    anil = ours.assign(method="ANIL")  # ANIL's paper has no 5-way Omniglot number
    table = ml.report.compare(anil, "Omniglot", "glyphs", decimals=2, unpublished=["ANIL"])
    assert table.iloc[0]["paper (Omniglot)"] == "—"
    assert table.iloc[0]["ours (glyphs)"] == "50.00 ± 1.00"
    assert (ml.report.paper_numbers()["table"].str.len() > 0).all()
    omniglot = ml.report.paper_numbers(dataset="Omniglot")
    assert (omniglot["protocol"].str.len() > 0).all()  # every Omniglot number says its protocol
    sinusoid = ml.report.compare(ours.assign(method="MAML", setting="5-shot regression"),
                                 "Sinusoid", "sinusoids")
    assert "paper's protocol" not in sinusoid.columns


def test_plots_return_axes(tiny_images):
    import matplotlib
    matplotlib.use("Agg")
    task = ml.data.EpisodeSampler(tiny_images, 3, 2, 2).task()
    assert ml.plots.plot_task(task) is not None
    assert ml.plots.plot_task(ml.data.SinusoidSampler(5, 5).task()) is not None
    import pandas as pd
    history = pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 1.0]})
    assert ml.plots.plot_history(history).get_xlabel() == "meta-training step"


def test_glue_returns_plain_python_numbers_for_scalars():
    import numpy as np
    assert type(ml.glue("x", np.float64(1.5))) is float
    assert type(ml.glue("x", torch.tensor(2.5))) is float
    assert ml.glue("x", "text") == "text"


def test_score_table_keeps_first_seen_order_and_marks_missing_settings():
    ours = pd.DataFrame([dict(method="B", setting="5-way", mean=70.04, ci95=1.96),
                         dict(method="A", setting="5-way", mean=80.0, ci95=2.0),
                         dict(method="A", setting="20-way", mean=60.0, ci95=3.0)])
    table = ml.report.score_table(ours)
    assert list(table.index) == ["B", "A"] and list(table.columns) == ["5-way", "20-way"]
    assert table.loc["B", "5-way"] == "70.0 ± 2.0" and table.loc["B", "20-way"] == "—"


def test_checks_table_shows_every_row_and_fails_listing_the_failed_ones(capsys):
    rows = [ml.report.check("MAML beats pixels", 72.3, 52.4 + 6),
            ml.report.check("loss below", 0.012, 0.02, above=False)]
    assert rows[0]["pass"] and rows[1]["pass"] and rows[1]["threshold"] == "< 0.02"
    ml.report.checks(rows)  # all hold: no error
    rows.append(ml.report.check("ANIL within 3 of MAML", 60.0, 69.3))
    with pytest.raises(AssertionError, match=r"1 of 3 checks failed:\n  ANIL within 3 of MAML: "
                                             r"measured 60.0, needed > 69.3"):
        ml.report.checks(rows)


def test_smoke_mode_caps_counts_only_when_set(monkeypatch):
    monkeypatch.delenv("MLCORE_SMOKE", raising=False)
    assert not ml.smoke_mode() and ml.smoke_cap(1000) == 1000
    monkeypatch.setenv("MLCORE_SMOKE", "1")
    assert ml.smoke_mode() and ml.smoke_cap(1000) == 3 and ml.smoke_cap(1000, 5) == 5
    assert ml.smoke_cap(2) == 2
    monkeypatch.setenv("MLCORE_SMOKE", "maybe")
    with pytest.raises(ValueError, match="MLCORE_SMOKE"):
        ml.smoke_mode()


def test_smoke_run_trains_a_few_steps_on_few_tasks_and_vmaps(monkeypatch):
    monkeypatch.setenv("MLCORE_SMOKE", "1")
    vmapped, drawn = [], []
    original_vmap = ml.functional.vmap
    monkeypatch.setattr(ml.functional, "vmap",
                        lambda *args, **kw: vmapped.append(1) or original_vmap(*args, **kw))
    sampler = ml.data.SinusoidSampler(5, 5, seed=0)
    sample, task = sampler.sample, sampler.task
    sampler.sample = lambda n: drawn.append(n) or sample(n)
    method = ml.methods.MAML(ml.nets.MLP([1, 8, 1]), torch.nn.functional.mse_loss, 0.01)
    history = ml.meta_train(method, sampler, steps=1000, meta_batch_size=25, lr=1e-3,
                            progress=False)
    assert len(history) == 3 and drawn == [2, 2, 2] and vmapped, "3 steps of 2 tasks, vmapped"
    drawn.clear()
    sampler.task = lambda: drawn.append("task") or task()
    ml.evaluate(method, sampler, 600)
    assert drawn == ["task"] * 5


def test_checkpoints_name_chapter_mode_seed_and_run(monkeypatch, tmp_path):
    monkeypatch.delenv("MLCORE_SMOKE", raising=False)
    monkeypatch.setenv("MLCORE_FULL", "1")
    path_of = ml.checkpoints(tmp_path, "02_maml", 7)
    assert path_of("Matching Nets (FCE)") == tmp_path / "02_maml/full-seed7/matching-nets-fce.pt"
    assert ml.checkpoints(None, "02_maml", 7)("MAML") is None
    monkeypatch.setenv("MLCORE_CHECKPOINTS", str(tmp_path))
    assert ml.checkpoint_dir() == str(tmp_path)
    monkeypatch.setenv("MLCORE_CHECKPOINTS", "")
    assert ml.checkpoint_dir() is None


def test_checks_in_a_smoke_run_show_training_claims_and_assert_the_rest(monkeypatch):
    check = ml.report.check
    trained, protocol = check("trained well", 1.0, 2.0), check("memory", 3.0, 2.0,
                                                                 needs_training=False)
    with pytest.raises(AssertionError, match="trained well"):
        ml.report.checks([trained, protocol])
    monkeypatch.setenv("MLCORE_SMOKE", "1")
    ml.report.checks([trained, protocol])  # the training claim is shown, not asserted
    with pytest.raises(AssertionError, match="a finite number"):
        ml.report.checks([check("trained well", float("nan"), 2.0)])
    with pytest.raises(AssertionError, match="memory"):
        ml.report.checks([check("memory", 1.0, 2.0, needs_training=False)])
