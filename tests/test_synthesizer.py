"""The public face: fit / sample / save / load on real Adult rows and on a mixed table."""
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

from synthvae import NotFittedError, Synthesizer
from synthvae.io import InputError, read_table

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"
NULLABLE = ["workclass", "occupation", "native-country"]
# Small and quick: what these tests pin does not depend on the model's size.
QUICK = {"hidden_dim": 64, "latent_dim": 8, "prior_components": 5}


@pytest.fixture(scope="module")
def adult_all() -> pd.DataFrame:
    return pd.read_csv(ADULT)


@pytest.fixture(scope="module")
def adult(adult_all) -> pd.DataFrame:
    return adult_all.sample(2000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(adult) -> Synthesizer:
    return Synthesizer(epochs=25, random_state=0, **QUICK).fit(adult)


@pytest.fixture(scope="module")
def synthetic(fitted) -> pd.DataFrame:
    return fitted.sample(4000, random_state=1)


# ------------------------------------------------------------------ what comes out
def test_sample_has_the_input_columns_order_and_dtypes(adult, synthetic):
    assert list(synthetic.columns) == list(adult.columns)
    assert synthetic.dtypes.equals(adult.dtypes)
    assert len(synthetic) == 4000 and synthetic.index.equals(pd.RangeIndex(4000))


def test_sample_keeps_nulls_at_about_the_real_rate(adult, synthetic):
    for name in NULLABLE:
        real, fake = adult[name].isna().mean(), synthetic[name].isna().mean()
        assert real / 2 < fake < real * 2, (name, real, fake)
    complete = [c for c in adult.columns if c not in NULLABLE]
    assert synthetic[complete].notna().all().all()


def test_sampled_categories_come_only_from_the_real_sets(adult, synthetic):
    for name in adult.select_dtypes(object).columns:
        assert set(synthetic[name].dropna()) <= set(adult[name].dropna()), name
    # and the common ones all turn up
    assert set(synthetic["relationship"]) == set(adult["relationship"])


def test_sampled_numerics_stay_within_real_bounds_and_stay_integers(adult, synthetic):
    for name in adult.select_dtypes("number").columns:
        assert synthetic[name].dtype == np.int64
        assert adult[name].min() <= synthetic[name].min(), name
        assert synthetic[name].max() <= adult[name].max(), name
    assert set(synthetic["education-num"]) <= set(adult["education-num"])


def test_sample_zero_rows_keeps_columns_and_dtypes(adult, fitted):
    empty = fitted.sample(0)
    assert empty.shape == (0, adult.shape[1]) and empty.dtypes.equals(adult.dtypes)


# ------------------------------------------------------------------ reproducibility
def test_fitting_twice_with_the_same_random_state_gives_identical_rows(adult):
    rows = adult.head(1000)
    first = Synthesizer(epochs=2, random_state=3, **QUICK).fit(rows).sample(300, random_state=0)
    again = Synthesizer(epochs=2, random_state=3, **QUICK).fit(rows).sample(300, random_state=0)
    pd.testing.assert_frame_equal(first, again)


def test_sample_with_a_random_state_is_reproducible_and_states_differ(fitted):
    pd.testing.assert_frame_equal(fitted.sample(500, random_state=7),
                                  fitted.sample(500, random_state=7))
    assert not fitted.sample(500, random_state=7).equals(fitted.sample(500, random_state=8))


def test_successive_samples_without_a_random_state_differ(fitted):
    assert not fitted.sample(200).equals(fitted.sample(200))


# ------------------------------------------------------------------ persistence
def test_save_then_load_gives_identical_samples(fitted, tmp_path):
    loaded = Synthesizer.load(fitted.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.sample(1000, random_state=5),
                                  fitted.sample(1000, random_state=5))
    assert loaded.column_kinds_ == fitted.column_kinds_
    assert loaded.get_params() == fitted.get_params()


def test_loaded_synthesizer_continues_the_same_unseeded_sequence_as_a_fresh_one(adult, tmp_path):
    rows = adult.head(500)
    a = Synthesizer(epochs=1, random_state=4, **QUICK).fit(rows)
    b = Synthesizer.load(a.save(tmp_path / "a"))
    pd.testing.assert_frame_equal(a.sample(100), b.sample(100))
    pd.testing.assert_frame_equal(a.sample(100), b.sample(100))


def test_saved_directory_holds_only_json_and_safetensors(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    files = sorted(p.name for p in path.iterdir())
    assert files == ["arrays.safetensors", "model.safetensors", "synthesizer.json"]
    json.loads((path / "synthesizer.json").read_text())
    for name in ("arrays.safetensors", "model.safetensors"):
        with safe_open(str(path / name), framework="numpy") as f:
            assert len(list(f.keys())) > 0
        assert b"\x80\x04\x95" not in (path / name).read_bytes()[:64]  # no pickle stream


def test_loading_uses_no_pickle(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used while loading")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = Synthesizer.load(path)
    assert loaded.sample(10, random_state=0).shape == (10, 15)


def test_loading_a_missing_or_foreign_directory_says_what_is_wrong(fitted, tmp_path):
    with pytest.raises(FileNotFoundError, match="synthesizer.json"):
        Synthesizer.load(tmp_path / "nothing-here")
    path = fitted.save(tmp_path / "model")
    meta = json.loads((path / "synthesizer.json").read_text())
    meta["format_version"] = 999
    (path / "synthesizer.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version"):
        Synthesizer.load(path)



@pytest.mark.parametrize("name", ["model.safetensors", "arrays.safetensors", "synthesizer.json"])
def test_loading_a_cut_short_file_names_it_in_one_line(fitted, tmp_path, name):
    path = fitted.save(tmp_path / "model")
    data = (path / name).read_bytes()
    (path / name).write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="cut short") as err:
        Synthesizer.load(path)
    assert str(path / name) in str(err.value) and "\n" not in str(err.value)
    (path / name).unlink()
    # without synthesizer.json the folder holds no synthesizer at all
    missing = FileNotFoundError if name == "synthesizer.json" else InputError
    with pytest.raises(missing, match=f"{name}"):
        Synthesizer.load(path)


def test_loading_weights_of_another_model_names_the_file(fitted, adult, tmp_path):
    path = fitted.save(tmp_path / "model")
    other = Synthesizer(epochs=1, random_state=0, hidden_dim=16, latent_dim=4).fit(adult.head(100))
    other.save(tmp_path / "other")
    weights = (tmp_path / "other" / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(weights)
    with pytest.raises(InputError, match="model.safetensors does not hold this model's weights"):
        Synthesizer.load(path)


# ------------------------------------------------------------------ misuse
def test_using_an_unfitted_synthesizer_raises_not_fitted_error(tmp_path):
    synth = Synthesizer()
    with pytest.raises(NotFittedError, match="fit"):
        synth.sample(10)
    with pytest.raises(NotFittedError):
        synth.save(tmp_path / "model")
    with pytest.raises(NotFittedError):
        synth.column_kinds_  # noqa: B018


@pytest.mark.parametrize("n", [-1, 2.5, "10", True, None])
def test_sample_rejects_a_bad_number_of_rows(fitted, n):
    with pytest.raises(ValueError, match="non-negative integer"):
        fitted.sample(n)


def test_sample_accepts_numpy_integers(fitted):
    assert len(fitted.sample(np.int64(3))) == 3


def test_fitting_an_empty_table_raises_value_error(adult):
    for empty in (pd.DataFrame(), adult.iloc[:0], adult.iloc[:, :0]):
        with pytest.raises(ValueError, match="empty"):
            Synthesizer(epochs=1).fit(empty)


def test_fitting_something_other_than_a_dataframe_raises_type_error(adult):
    with pytest.raises(TypeError, match="DataFrame"):
        Synthesizer(epochs=1).fit(adult.to_numpy())


def test_constructor_only_stores_its_parameters():
    synth = Synthesizer(epochs=-5, latent_dim=0, column_kinds={"x": "nonsense"})
    assert synth.get_params()["epochs"] == -5 and not hasattr(synth, "model_")


# ------------------------------------------------------------------ progress bars
def test_progress_true_shows_bars_for_fit_and_sample_on_stderr_and_false_shows_none(
        adult, capfd):
    rows = {}
    for progress in (True, False):
        synth = Synthesizer(epochs=2, random_state=0, progress=progress, **QUICK)
        synth.fit(adult.head(300))
        fit_out, fit_err = capfd.readouterr()
        rows[progress] = synth.sample(100, random_state=0)
        sample_out, sample_err = capfd.readouterr()
        assert fit_out == sample_out == ""
        if progress:
            assert "fit: 100%" in fit_err and "epoch 2 of at most 2" in fit_err
            assert "train loss" in fit_err and "val loss" in fit_err
            assert "sample: 100%" in sample_err and "100/100" in sample_err
        else:
            assert fit_err == sample_err == ""
    pd.testing.assert_frame_equal(rows[True], rows[False])


def test_progress_by_default_only_at_a_terminal(adult, capfd):
    synth = Synthesizer(epochs=1, random_state=0, **QUICK).fit(adult.head(200))
    synth.sample(10, random_state=0)
    assert synth.progress is None and capfd.readouterr().err == ""  # pytest's stderr is a pipe


def test_the_fit_bar_says_when_and_why_training_stopped_early(adult, capfd):
    Synthesizer(epochs=5, max_seconds=0, random_state=0, progress=True,
                **QUICK).fit(adult.head(200))
    err = capfd.readouterr().err
    assert "stopped early at epoch 1 of 5 (time budget of 0 s spent)" in err
    Synthesizer(dp_epsilon=50.0, epochs=5, max_seconds=0, random_state=0, progress=True,
                **QUICK).fit(adult.head(32))
    err = capfd.readouterr().err
    assert "stopped early at epoch 1 of 5 (time budget spent)" in err
    assert "val loss" not in err  # DP holds no rows back to validate on


def test_progress_is_saved_with_the_model_and_older_models_load_without_it(adult, tmp_path):
    synth = Synthesizer(epochs=1, random_state=0, progress=False, **QUICK).fit(adult.head(200))
    path = synth.save(tmp_path / "model")
    assert Synthesizer.load(path).progress is False
    meta = json.loads((path / "synthesizer.json").read_text())
    del meta["params"]["progress"]
    (path / "synthesizer.json").write_text(json.dumps(meta))
    assert Synthesizer.load(path).progress is None


# ------------------------------------------------------------------ a mixed table
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "John", "Donald", "Niklaus", "Katherine",
         "Margaret", "Dennis", "Ken", "Frances", "Radia", "Tim", "Linus"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Backus", "Knuth", "Wirth",
        "Johnson", "Hamilton", "Ritchie", "Thompson", "Allen", "Perlman", "Torvalds", "Kay"]


def generality_table(adult: pd.DataFrame) -> pd.DataFrame:
    """Adult with one column of every other kind a user's table may hold."""
    df = adult.copy()
    n, rng = len(df), np.random.default_rng(0)
    seconds = rng.integers(0, 3 * 365 * 86400, n)
    df["signup"] = (pd.Timestamp("2013-01-01") + pd.to_timedelta(seconds, unit="s")
                    ).strftime("%Y-%m-%d %H:%M:%S")
    df["row_id"] = np.arange(n) + 100_000
    df["customer_id"] = [f"CUST-{i:05d}" for i in rng.permutation(n)]
    pool = [f"{f} {l}" for f in FIRST for l in LAST] + [
        f"{f} {m} {l}" for f in FIRST for m in FIRST for l in LAST]
    df["full_name"] = np.array(pool, dtype=object)[rng.permutation(len(pool))[:n]]
    df["source"] = "census-1994"
    df["notes"] = np.nan
    df["rich"] = df["income"].eq(">50K")
    # 90% null, and nullness depends on sex: set for 14% of men and 2% of women
    kept = rng.random(n) < np.where(df["sex"] == "Male", 0.14, 0.02)
    df["bonus"] = np.where(kept, rng.integers(1, 200, n) * 25.0, np.nan)
    return df


@pytest.fixture(scope="module")
def mixed(adult) -> pd.DataFrame:
    return generality_table(adult)


@pytest.fixture(scope="module")
def mixed_fitted(mixed) -> Synthesizer:
    return Synthesizer(epochs=15, random_state=0, **QUICK).fit(mixed)


@pytest.fixture(scope="module")
def mixed_synthetic(mixed_fitted) -> pd.DataFrame:
    return mixed_fitted.sample(3000, random_state=0)


def test_mixed_table_columns_are_detected_as_their_kinds(mixed_fitted):
    kinds = mixed_fitted.column_kinds_
    added = ("signup", "row_id", "customer_id", "full_name", "source", "notes", "rich", "bonus")
    assert {c: kinds[c] for c in added} == {
        "signup": "datetime", "row_id": "id", "customer_id": "id", "full_name": "text",
        "source": "constant", "notes": "constant", "rich": "boolean", "bonus": "numeric"}


def test_mixed_table_comes_back_with_every_column_name_order_and_dtype(mixed, mixed_synthetic):
    assert list(mixed_synthetic.columns) == list(mixed.columns)
    assert mixed_synthetic.dtypes.equals(mixed.dtypes)
    assert len(mixed_synthetic) == 3000


def test_mixed_table_ids_are_unique_and_never_copied(mixed, mixed_synthetic):
    for name in ("row_id", "customer_id"):
        ids = mixed_synthetic[name]
        assert ids.notna().all() and ids.is_unique, name
        assert not ids.isin(set(mixed[name])).any(), name
    # "CUST-" is in every real id, so it is kept; an id that would be real takes a digit more
    assert mixed_synthetic["customer_id"].str.fullmatch(r"CUST-\d{5,6}").all()
    assert mixed_synthetic["customer_id"].str.fullmatch(r"CUST-\d{5}").mean() > 0.95


def test_mixed_table_names_are_never_copied(mixed, mixed_synthetic):
    names = mixed_synthetic["full_name"]
    assert names.notna().all() and not names.isin(set(mixed["full_name"])).any()
    assert names.str.split().str[0].isin(FIRST).all()


def test_mixed_table_numerics_and_dates_respect_the_real_bounds(mixed, mixed_synthetic):
    for name in ("age", "fnlwgt", "hours-per-week", "bonus"):
        fake = mixed_synthetic[name].dropna()
        assert mixed[name].min() <= fake.min() and fake.max() <= mixed[name].max(), name
    signup = mixed_synthetic["signup"]
    assert signup.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert mixed["signup"].min() <= signup.min() and signup.max() <= mixed["signup"].max()


def test_mixed_table_constant_null_and_boolean_columns(mixed_synthetic):
    assert (mixed_synthetic["source"] == "census-1994").all()
    assert mixed_synthetic["notes"].isna().all()
    assert set(mixed_synthetic["rich"]) == {True, False}


def test_mostly_null_column_keeps_its_null_rate_and_its_dependence_on_sex(mixed, mixed_synthetic):
    real, fake = mixed["bonus"].isna().mean(), mixed_synthetic["bonus"].isna().mean()
    assert abs(fake - real) < 0.05 and 0.85 < real < 0.95
    null_by_sex = mixed_synthetic.groupby("sex")["bonus"].apply(lambda s: s.isna().mean())
    assert null_by_sex["Female"] > null_by_sex["Male"]
    assert np.all(np.mod(mixed_synthetic["bonus"].dropna(), 1) == 0)  # whole, like the real


def test_mixed_table_save_then_load_gives_identical_samples(mixed_fitted, tmp_path):
    # every encoder kind's state through JSON and safetensors
    loaded = Synthesizer.load(mixed_fitted.save(tmp_path / "mixed"))
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=3),
                                  mixed_fitted.sample(500, random_state=3))


def test_binned_numbers_and_dates_keep_bounds_nulls_and_conditions_and_save(mixed, tmp_path):
    synth = Synthesizer(epochs=5, numeric_bins=16, random_state=0, **QUICK).fit(mixed)
    out = synth.sample(2000, random_state=0)
    assert out.dtypes.equals(mixed.dtypes)
    for name in ("age", "fnlwgt", "hours-per-week", "bonus"):
        fake = out[name].dropna()
        assert mixed[name].min() <= fake.min() and fake.max() <= mixed[name].max(), name
    assert 0.8 < out["bonus"].isna().mean() < 0.97
    assert mixed["signup"].min() <= out["signup"].min() <= out["signup"].max() <= mixed["signup"].max()
    kept = synth.sample(300, conditions={"age": (30, 40), "signup": ("2014-03-01", "2014-06-30")},
                        random_state=1)
    assert kept["age"].between(30, 40).all()
    assert kept["signup"].between("2014-03-01", "2014-06-30 23:59:59").all()
    loaded = Synthesizer.load(synth.save(tmp_path / "binned"))
    assert loaded.numeric_bins == 16
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=3), synth.sample(500, random_state=3))


def test_a_small_table_of_300_rows_fits_and_samples(adult_all):
    small = adult_all.sample(300, random_state=1).reset_index(drop=True)
    synth = Synthesizer(epochs=3, random_state=0, **QUICK).fit(small)
    out = synth.sample(300, random_state=0)
    assert out.dtypes.equals(small.dtypes) and len(out) == 300
    assert len(synth.history_) == 3



def test_a_one_row_table_fits_samples_and_saves(adult_all, tmp_path):
    """One row makes every column constant: a model with no outputs at all."""
    one = adult_all.head(1)
    synth = Synthesizer(epochs=2, random_state=0, **QUICK).fit(one)
    out = synth.sample(5, random_state=0)
    assert out.dtypes.equals(one.dtypes)
    pd.testing.assert_frame_equal(out, pd.concat([one] * 5, ignore_index=True))
    loaded = Synthesizer.load(synth.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.sample(5, random_state=0), out)


def test_dp_training_of_twenty_optimiser_steps_runs(adult_all):
    """32 rows in batches of 16 for 10 DP epochs: the step count that broke the schedule."""
    synth = Synthesizer(dp_epsilon=50.0, random_state=0, **QUICK).fit(adult_all.head(32))
    assert len(synth.history_) == 10 and synth.train_config_.batch_size == 16
    assert synth.sample(5, random_state=0).shape == (5, 15)

@pytest.mark.parametrize("rows, batch", [(2000, 128), (9000, 256), (16_000, 512),
                                         (None, 1024)])
def test_batches_are_about_a_32nd_of_the_rows_from_128_to_1024(adult_all, rows, batch):
    table = adult_all if rows is None else adult_all.head(rows)
    synth = Synthesizer(epochs=1, random_state=0, calibrate=False, **QUICK).fit(table)
    assert synth.train_config_.batch_size == batch  # of the 90% of rows not held back
    assert Synthesizer(epochs=1, batch_size=300, random_state=0, calibrate=False,
                       **QUICK).fit(table).train_config_.batch_size == 300


@pytest.mark.parametrize("batch_size", ["big", 0, 2.5, True])
def test_a_bad_batch_size_is_refused_before_training(adult, batch_size):
    with pytest.raises(ValueError, match="batch_size must be"):
        Synthesizer(epochs=1, batch_size=batch_size).fit(adult)


@pytest.mark.parametrize("rank", ["16", -1, 2.5, True])
def test_a_bad_context_rank_is_refused_before_training(adult, rank):
    with pytest.raises(ValueError, match="context_rank must be"):
        Synthesizer(epochs=1, context_rank=rank).fit(adult)


def test_a_model_of_format_version_2_loads_and_draws_what_it_drew(adult, tmp_path):
    # version 2 had one plain context sum: no context_rank in its parameters or config
    synth = Synthesizer(epochs=3, context_rank=0, random_state=0, **QUICK).fit(adult)
    path = synth.save(tmp_path / "model")
    meta = json.loads((path / "synthesizer.json").read_text())
    assert meta["format_version"] == 3 and meta["model_config"]["context_rank"] == 0
    meta["format_version"] = 2
    del meta["model_config"]["context_rank"], meta["params"]["context_rank"]
    (path / "synthesizer.json").write_text(json.dumps(meta))
    loaded = Synthesizer.load(path)
    assert loaded.model_config_.context_rank == 0
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=3), synth.sample(500, random_state=3))


def test_a_two_row_table_fits_and_samples_values_of_its_rows(adult_all):
    two = adult_all.head(2)
    out = Synthesizer(epochs=3, random_state=0, **QUICK).fit(two).sample(50, random_state=0)
    assert out.dtypes.equals(two.dtypes) and len(out) == 50
    for name in ("workclass", "education", "income"):
        assert set(out[name]) <= set(two[name]), name


# ------------------------------------------------------------ regressions
@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """pizzaplace's lines of the orders of its first five days: an order id on each line."""
    return read_table(Path(__file__).parent / "data" / "groups" / "pizzaplace.csv.gz")


def test_rows_sharing_a_key_come_in_groups_that_keep_every_rule(orders, tmp_path):
    from synthvae.synthesizer import SAMPLE_CHUNK
    model = Synthesizer(epochs=3, random_state=0, **QUICK).fit(orders)
    out = model.sample(SAMPLE_CHUNK + 2000, random_state=3)
    assert model.column_kinds_["id"] == "id"
    groups = out.groupby("id", sort=False)
    assert (groups[["date", "time"]].nunique() == 1).all().all()
    assert groups.size().mean() == pytest.approx(orders.groupby("id").size().mean(), rel=0.25)
    assert not out["id"].isin(set(orders["id"])).any()
    assert model.rules_.violations(out, model.encoder_) == [0] * len(model.rules_)
    # the report shows the groups as a rule, and counts the rows that break it
    group = model.rules_.report(orders, out, model.encoder_)[0]
    assert group["rule"] == "rows of one id share date, time" and group["kind"] == "group"
    assert group["real_violation_rate"] == group["synthetic_violation_rate"] == 0
    # one order whose three lines hold three times: the two that differ from the first break it
    moved = pd.concat([out.head(1)] * 3).assign(time=["11:00:00", "12:00:00", "13:00:00"])
    assert model.rules_.report(orders, moved, model.encoder_)[0][
        "synthetic_violation_rate"] == pytest.approx(2 / 3, abs=1e-6)
    # the rows do not depend on how they are drawn: in shards, or by a loaded model
    tail = pd.concat(model.iter_sample(2000, random_state=3, start=SAMPLE_CHUNK),
                     ignore_index=True)
    pd.testing.assert_frame_equal(tail, out.tail(2000).reset_index(drop=True))
    model.save(tmp_path / "model")
    pd.testing.assert_frame_equal(Synthesizer.load(tmp_path / "model").sample(
        SAMPLE_CHUNK + 2000, random_state=3), out)
    # a condition holds on every row, and groups still share their order's date and time
    large = model.sample(500, random_state=4, conditions={"size": "L", "date": (
        "2015-01-02", "2015-01-03")})
    assert (large["size"] == "L").all() and large["date"].between("2015-01-02", "2015-01-03").all()
    assert (large.groupby("id")[["date", "time"]].nunique() == 1).all().all()


def test_integer_ids_are_unique_across_sample_chunks(adult):
    rows = adult.head(500)[["age", "sex"]].assign(row_id=np.arange(500))
    synth = Synthesizer(epochs=1, random_state=0, **QUICK).fit(rows)
    assert synth.sample(70_000, random_state=0)["row_id"].is_unique


def test_fit_leaves_the_global_torch_rng_alone(adult):
    rows = adult.head(300)
    draws = []
    for user_seed in (1, 2):
        torch.manual_seed(user_seed)
        Synthesizer(epochs=1, random_state=0, **QUICK).fit(rows)
        draws.append(torch.rand(1).item())
    assert draws[0] != draws[1]


def test_column_kinds_are_user_facing_kinds_usable_for_scoring(adult):
    from synthvae.columns import KINDS
    from synthvae.evaluation.fidelity import sdmetrics_metadata

    rows = adult.head(300)
    synth = Synthesizer(epochs=1, random_state=0, **QUICK).fit(rows)
    assert synth.column_kinds_["education-num"] == "numeric"
    assert set(synth.column_kinds_.values()) <= set(KINDS)
    assert set(sdmetrics_metadata(rows, synth.column_kinds_)["columns"]) == set(rows.columns)


# ------------------------------------------------------------------ the latent space
def test_encode_gives_each_row_a_latent_mean_and_positive_variance(adult, fitted):
    rows = adult.head(50).set_axis(range(500, 550))
    means, variances = fitted.encode(rows, return_variance=True)
    assert means.shape == (50, QUICK["latent_dim"]) and list(means.index) == list(rows.index)
    assert (variances.to_numpy() > 0).all()
    pd.testing.assert_frame_equal(fitted.encode(rows), means)  # deterministic


def test_similar_rows_land_closer_in_latent_space_than_dissimilar_ones(adult, fitted):
    base = adult.head(200).reset_index(drop=True)
    nudged = base.assign(**{"hours-per-week": base["hours-per-week"].clip(upper=98) + 1})
    other = base.sample(frac=1.0, random_state=0).reset_index(drop=True)
    z, z_near, z_far = (fitted.encode(df).to_numpy() for df in (base, nudged, other))
    near = np.linalg.norm(z - z_near, axis=1)
    far = np.linalg.norm(z - z_far, axis=1)
    assert np.median(near) < 0.5 * np.median(far)


def test_decode_is_deterministic_unless_asked_to_sample(adult, fitted):
    z = fitted.encode(adult.head(100))
    first, again = fitted.decode(z), fitted.decode(z.to_numpy())
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == list(adult.columns)
    assert (first.dtypes == adult.dtypes).all()
    drawn = [fitted.decode(z, sample=True, random_state=s) for s in (0, 1)]
    assert not drawn[0].equals(drawn[1])
    with pytest.raises(ValueError, match="shape"):
        fitted.decode(np.zeros((3, QUICK["latent_dim"] + 1)))


def test_interpolation_rows_pass_the_schema_and_start_and_end_near_the_rows(adult, fitted):
    from synthvae.schema import infer_schema, validate
    schema = infer_schema(adult, name="adult")
    a, b = adult.iloc[3], adult.iloc[7]
    path = fitted.interpolate(a, b, steps=8)
    assert len(path) == 8 and list(path.columns) == list(adult.columns)
    validate(path, schema, what="interpolated rows")
    recon = fitted.decode(fitted.encode(adult.head(300)))
    same = (recon.astype(str).values == adult.head(300).astype(str).values).mean()
    assert same > 0.5  # an endpoint decodes to mostly its own values
    z = fitted.encode(pd.concat([adult.iloc[[3]], adult.iloc[[7]]])).to_numpy()
    path_z = fitted.encode(path).to_numpy()
    assert np.linalg.norm(path_z[0] - z[0]) < np.linalg.norm(path_z[0] - z[1])
    assert np.linalg.norm(path_z[-1] - z[1]) < np.linalg.norm(path_z[-1] - z[0])


def test_interpolation_rejects_rows_of_another_schema(adult, fitted):
    with pytest.raises(ValueError, match="missing \\['income'\\]"):
        fitted.interpolate(adult.iloc[0].drop("income"), adult.iloc[1])
    with pytest.raises(ValueError, match="steps"):
        fitted.interpolate(adult.iloc[0], adult.iloc[1], steps=1)


def test_augment_balances_the_target_and_keeps_the_real_rows_first(adult, fitted):
    rows = adult.head(400)
    counts = rows["income"].value_counts()
    out = fitted.augment(rows, target="income", random_state=0)
    pd.testing.assert_frame_equal(out.head(400), rows.reset_index(drop=True))
    assert (out["income"].value_counts() == counts.max()).all()
    shared = fitted.augment(rows, "income", balance={"<=50K": 0.5, ">50K": 0.5}, n=100,
                            random_state=0)
    assert len(shared) == 500
    added = shared.iloc[400:]["income"].value_counts()
    assert added.get(">50K", 0) == 100  # every added row goes to the class below its share
    mixed = fitted.augment(rows, "income", balance=False, n=300, random_state=0)
    assert len(mixed) == 700 and mixed.iloc[400:]["income"].nunique() == 2


@pytest.mark.parametrize("kwargs, words", [
    ({"target": "nope"}, "not a column"),
    ({"target": "income", "balance": {"rich": 1.0}}, "not in the rows"),
    ({"target": "income", "balance": {">50K": -1}}, "non-negative"),
    ({"target": "income", "balance": False}, "needs n"),
])
def test_augment_rejects_bad_requests(adult, fitted, kwargs, words):
    with pytest.raises(ValueError, match=words):
        fitted.augment(adult.head(100), **kwargs)


# ------------------------------------------------------------------ differential privacy
def test_dp_training_spends_at_most_its_budget_and_samples_from_the_plain_prior(adult, tmp_path):
    rows = adult.head(600)
    synth = Synthesizer(dp_epsilon=3.0, epochs=1, random_state=0, **QUICK).fit(rows)
    assert 0 < synth.dp_epsilon_spent_ <= 3.0
    assert synth.dp_delta_ < 1 / len(rows)
    assert len(synth.prior_.weights_) == 1 and not synth.prior_.means_.any()  # N(0, I)
    sample = synth.sample(200, random_state=0)
    assert list(sample.columns) == list(rows.columns)
    again = Synthesizer.load(synth.save(tmp_path / "dp"))
    assert again.dp_epsilon_spent_ == synth.dp_epsilon_spent_
    pd.testing.assert_frame_equal(again.sample(50, random_state=1), synth.sample(50, random_state=1))


@pytest.mark.parametrize("kwargs, words", [
    ({"dp_epsilon": 0.0}, "epsilon must be a finite number > 0"),
    ({"dp_epsilon": -1.0}, "epsilon must be a finite number > 0"),
    ({"dp_epsilon": 1.0, "dp_delta": 1.5}, "0 < delta < 1"),
])
def test_bad_privacy_budgets_fail_before_training(adult, kwargs, words):
    synth = Synthesizer(epochs=1, random_state=0, **kwargs, **QUICK)
    with pytest.raises(ValueError, match=words):
        synth.fit(adult.head(100))
    assert not hasattr(synth, "model_")


def test_iter_sample_streams_exactly_the_rows_of_sample(adult, fitted):
    n = 70_000  # two chunks
    whole = fitted.sample(n, random_state=4)
    chunks = list(fitted.iter_sample(n, random_state=4))
    assert [len(c) for c in chunks] == [65_536, n - 65_536]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_shards_started_apart_make_exactly_the_rows_of_one_sample(mixed_fitted):
    """What sharded sampling (flows.generate --workers) relies on: ids included."""
    from synthvae.synthesizer import SAMPLE_CHUNK
    n = 2 * SAMPLE_CHUNK + 5_000
    whole = mixed_fitted.sample(n, random_state=11)
    shards = [pd.concat(mixed_fitted.iter_sample(size, random_state=11, start=start),
                        ignore_index=True)
              for start, size in ((0, SAMPLE_CHUNK), (SAMPLE_CHUNK, SAMPLE_CHUNK + 5_000))]
    pd.testing.assert_frame_equal(pd.concat(shards, ignore_index=True), whole)
    ids = [c for c, k in mixed_fitted.column_kinds_.items() if k == "id"]
    assert ids and all(whole[c].dropna().is_unique for c in ids)


def test_threads_do_not_change_the_rows(mixed_fitted):
    """From two full chunks on, chunks are drawn several at a time: the same rows, ids and
    chunk sizes as one at a time, conditioned or not, with a round of chunks left over."""
    from synthvae.synthesizer import SAMPLE_CHUNK
    n = 3 * SAMPLE_CHUNK + 1_000
    one = mixed_fitted.sample(n, random_state=5, threads=1)
    for threads in (2, 3):
        pd.testing.assert_frame_equal(mixed_fitted.sample(n, random_state=5, threads=threads), one)
    chunks = list(mixed_fitted.iter_sample(n, random_state=5, threads=2))
    assert [len(c) for c in chunks] == [SAMPLE_CHUNK] * 3 + [1_000]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), one)
    ids = [c for c, k in mixed_fitted.column_kinds_.items() if k == "id"]
    assert ids and all(one[c].dropna().is_unique for c in ids)
    women = {"sex": "Female"}
    pd.testing.assert_frame_equal(
        mixed_fitted.sample(2 * SAMPLE_CHUNK, random_state=6, conditions=women, threads=2),
        mixed_fitted.sample(2 * SAMPLE_CHUNK, random_state=6, conditions=women, threads=1))


def test_a_threaded_stream_left_early_stops_and_leaves_torch_as_it_was(fitted):
    import torch
    from synthvae.synthesizer import SAMPLE_CHUNK
    before = torch.get_num_threads()
    stream = fitted.iter_sample(6 * SAMPLE_CHUNK, random_state=1, threads=2)
    first = next(stream)
    stream.close()  # what a `break` out of a for loop does
    assert len(first) == SAMPLE_CHUNK and torch.get_num_threads() == before
    assert fitted.sample(10, random_state=1).shape[0] == 10


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2"])
def test_sample_refuses_a_bad_number_of_threads(fitted, threads):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        fitted.sample(10, threads=threads)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        fitted.iter_sample(10, threads=threads)


@pytest.mark.parametrize("start", [-65_536, 1_000, 1.5])
def test_iter_sample_refuses_a_start_off_the_chunk_grid(fitted, start):
    with pytest.raises(ValueError, match="start"):
        fitted.iter_sample(10, start=start)


def test_device_auto_trains_where_it_can_and_ends_on_the_cpu(adult):
    synth = Synthesizer(epochs=1, device="auto", random_state=0).fit(adult.head(500))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert synth.device_.startswith(expected)
    assert all(p.device.type == "cpu" for p in synth.model_.parameters())
    assert len(synth.sample(50)) == 50


def test_a_device_that_is_not_there_is_refused_before_any_work(adult):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Synthesizer(device="cuda").fit(adult.head(100))
    with pytest.raises(ValueError, match="device must be"):
        Synthesizer(device="abacus").fit(adult.head(100))
