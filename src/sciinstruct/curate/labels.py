"""What every quality classifier needs of its labels before it trains."""

from __future__ import annotations

from collections.abc import Sequence

from sciinstruct.errors import InputError


def check_trainable(labels: Sequence[int], what: str) -> None:
    """Both classes are needed to learn anything; say so with the counts."""
    positives = sum(labels)
    if positives == 0 or positives == len(labels):
        raise InputError(
            f"{what}: need both good and bad examples to train, got {positives} correct and "
            f"{len(labels) - positives} wrong; pass --labels FILE or --load CLASSIFIER_DIR"
        )
