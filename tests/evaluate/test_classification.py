"""Classification metrics: hand-computed cases, degenerate input, scikit-learn reference."""

import numpy as np
import pytest
from sklearn import metrics as skm

from genrelens.errors import ParameterError
from genrelens.evaluate.classification import (
    accuracy,
    classification_report,
    confusion_matrix,
    evaluate_predictions,
    log_loss,
    macro_f1,
    precision_recall_f1,
    track_probabilities,
)

# Hand-computed case: 3 classes, 6 items.
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 0, 2]
# confusion rows (true) x columns (predicted):
#   [[1, 1, 0],
#    [0, 2, 0],
#    [1, 0, 1]]
# precision = [1/2, 2/3, 1/1], recall = [1/2, 2/2, 1/2]
# f1 = [1/2, 4/5, 2/3]; macro-F1 = (1/2 + 4/5 + 2/3) / 3 = 59/90


def test_hand_computed_case():
    cm = confusion_matrix(Y_TRUE, Y_PRED, n_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6, abs=1e-15)
    precision, recall, f1 = precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(recall, [1 / 2, 1.0, 1 / 2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(f1, [1 / 2, 4 / 5, 2 / 3], rtol=0, atol=1e-15)
    assert macro_f1(cm) == pytest.approx(59 / 90, abs=1e-15)


def test_log_loss_hand_computed():
    probs = np.array([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
    expected = -(np.log(0.5) + np.log(0.8) + np.log(1e-15)) / 3  # the zero is clipped to 1e-15
    assert log_loss([0, 1, 1], probs) == pytest.approx(expected, rel=1e-12)


def test_degenerate_inputs_give_zero():
    assert accuracy([], []) == 0.0
    cm = confusion_matrix([], [], n_classes=3)
    assert cm.tolist() == [[0] * 3] * 3
    assert macro_f1(cm) == 0.0
    assert log_loss(np.zeros(0, dtype=int), np.zeros((0, 3))) == 0.0
    # class 2 never predicted (precision 0/0) and class 1 absent from y_true (recall 0/0)
    cm = confusion_matrix([0, 0, 2], [0, 1, 0], n_classes=3)
    precision, recall, f1 = precision_recall_f1(cm)
    assert precision.tolist() == [0.5, 0.0, 0.0] and recall.tolist() == [0.5, 0.0, 0.0]
    assert f1.tolist() == [0.5, 0.0, 0.0]
    # classes 0..2 occur; a fourth class that occurs nowhere does not dilute macro-F1
    assert macro_f1(confusion_matrix([0, 0, 2], [0, 1, 0], n_classes=4)) == pytest.approx(0.5 / 3)


def test_against_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    cm = confusion_matrix(y_true, y_pred, n_classes=6)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(6)))
    p, r, f = precision_recall_f1(cm)
    sp, sr, sf, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(6),
                                                        zero_division=0)
    np.testing.assert_allclose(p, sp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r, sr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f, sf, rtol=0, atol=1e-12)
    assert macro_f1(cm) == pytest.approx(skm.f1_score(y_true, y_pred, average="macro",
                                                      zero_division=0), abs=1e-12)
    probs = rng.dirichlet(np.ones(5), 200)
    assert log_loss(y_true, probs) == pytest.approx(skm.log_loss(y_true, probs), rel=1e-12)


def test_track_probabilities_average_segments_in_order_of_appearance():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.6, 0.4], [0.3, 0.7]])
    ids = ["b.1", "a.7", "b.1", "a.7", "c.2"]
    tracks, track_probs, labels = track_probabilities(probs, ids, [1, 0, 1, 0, 1])
    assert tracks.tolist() == ["b.1", "a.7", "c.2"]
    np.testing.assert_allclose(track_probs, [[0.65, 0.35], [0.4, 0.6], [0.3, 0.7]], atol=1e-15)
    assert labels.tolist() == [1, 0, 1]
    with pytest.raises(ParameterError, match="track 'b.1' has segments with different labels"):
        track_probabilities(probs, ids, [1, 0, 0, 0, 1])


def test_evaluate_predictions_segment_and_track_levels():
    # track x: segments predict 0, 1, 1 (mean favours 1, truth 1); track y: one segment, wrong.
    probs = np.array([[0.6, 0.4], [0.3, 0.7], [0.45, 0.55], [0.8, 0.2]])
    result = evaluate_predictions(probs, [1, 1, 1, 1], ["x", "x", "x", "y"],
                                  class_names=["rock", "jazz"])
    assert result["segment"]["accuracy"] == 0.5 and result["segment"]["n"] == 4
    assert result["track"]["accuracy"] == 0.5 and result["track"]["n"] == 2
    assert result["track"]["confusion_matrix"] == [[0, 0], [1, 1]]
    assert result["track"]["per_class"]["jazz"] == {"precision": 1.0, "recall": 0.5,
                                                    "f1": pytest.approx(2 / 3), "support": 2}
    assert result["track"]["per_class"]["rock"]["support"] == 0


def test_ties_go_to_the_lowest_class():
    report = classification_report([1], np.array([[0.5, 0.5]]), class_names=["a", "b"])
    assert report["confusion_matrix"] == [[0, 0], [1, 0]]


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: confusion_matrix([0, 3], [0, 1], n_classes=3), r"y_true holds labels in \[0, 3\]"),
        (lambda: confusion_matrix([0], [0, 1], n_classes=3), "1 labels but y_pred has 2"),
        (lambda: confusion_matrix([0], [0], n_classes=0), "n_classes=0"),
        (lambda: accuracy([0.5], [0.5]), "expected integer class indices"),
        (lambda: log_loss([0], np.array([[np.nan, 1.0]])), "non-finite"),
        (lambda: classification_report([0], np.ones((1, 3)), class_names=["a"]),
         "3 columns but class_names has 1"),
        (lambda: precision_recall_f1(np.ones((2, 3))), "square"),
    ],
)
def test_errors_name_the_problem(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
