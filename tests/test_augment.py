"""flows.augment through its command line, as a user runs it."""
import pandas as pd
import pytest

from test_synthesizer import ADULT


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_csv(ADULT).sample(1500, random_state=3).reset_index(drop=True)


def test_augment_balances_the_target_and_marks_synthetic_rows(run_cli, adult, tmp_path):
    path = tmp_path / "scarce.csv"
    adult.head(400).to_csv(path, index=False)
    out = tmp_path / "augmented.csv"
    result = run_cli("flows.augment", "--input", path, "--target", "income", "--balance",
                     "--mark", "synthetic", "--output", out, "--max-seconds", "5")
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(out)
    counts = table["income"].value_counts()
    assert counts["<=50K"] == counts[">50K"] == adult.head(400)["income"].value_counts().max()
    assert (~table["synthetic"].head(400)).all() and table["synthetic"].iloc[400:].all()
    pd.testing.assert_frame_equal(table.head(400).drop(columns="synthetic"),
                                  pd.read_csv(path), check_dtype=False)


@pytest.mark.parametrize("args, words", [
    (["--target", "colour"], "--target 'colour' is not a column"),
    (["--target", "income", "--shares", "rich=1"], "not in the input"),
    (["--target", "income", "--no-balance"], "needs --rows"),
])
def test_augment_refuses_bad_requests_before_training(run_cli, adult, tmp_path, args, words):
    path = tmp_path / "rows.csv"
    adult.head(50).to_csv(path, index=False)
    result = run_cli("flows.augment", "--input", path, *args)
    assert result.returncode == 2 and words in result.stderr, result.stderr[-2000:]
