"""SciGLM's data classifier: a causal LM fine-tuned to answer True/False about a solution.

The text is the question and the solution followed by "Is the solution correct? Answer True or
False.\nAnswer:"; the model learns to put " True" after correct solutions and " False" after wrong
ones (cross-entropy on that one next token). A sample's score is P(" True") - P(" False") under
the model's next-token distribution, in [-1, 1] like the TF-IDF classifier's.

The default model is the embedded SmolLM2-135M (`sciinstruct.embedded_model.hf_model_dir()`); any
Hugging Face causal LM directory works.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciinstruct.curate.labels import check_trainable
from sciinstruct.errors import require
from sciinstruct.log import logger

QUERY = "\n\nIs the solution correct? Answer True or False.\nAnswer:"
ANSWERS = (" True", " False")
TRAIN_INSTALL = 'pip install "sciinstruct[train]"'


class LMClassifier:
    """Fine-tunes a causal LM on True/False answers; scores P(True) - P(False)."""

    kind = "lm"

    def __init__(
        self,
        model: str | Path | None = None,
        epochs: float = 1.0,
        lr: float = 2e-5,
        batch_size: int = 4,
        max_length: int = 384,
        max_steps: int | None = None,
        seed: int = 0,
    ) -> None:
        require("torch", "torch (for the LM classifier)", TRAIN_INSTALL)
        require("transformers", "transformers (for the LM classifier)", TRAIN_INSTALL)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model is None:
            from sciinstruct.embedded_model import hf_model_dir

            model = hf_model_dir()
        self.source = str(model)
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.max_length, self.max_steps, self.seed = max_length, max_steps, seed
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model)
        self.query_ids = self.tokenizer.encode(QUERY, add_special_tokens=False)
        # The answer is judged on its first token; " True"/" False" are single tokens in
        # most BPE vocabularies (SmolLM2: 3635 and 4178).
        self.answer_ids = [self.tokenizer.encode(a, add_special_tokens=False)[0] for a in ANSWERS]
        self.steps_done = 0
        self.losses: list[float] = []

    def _batch(self, texts: Sequence[str]) -> dict[str, Any]:
        """Left-padded ids ending with the query, so position -1 predicts the answer token."""
        import torch

        room = max(8, self.max_length - len(self.query_ids))
        rows = []
        for text in texts:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            # Keep the end of a long solution: the final answer is where right and wrong differ.
            rows.append(ids[-room:] + self.query_ids)
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions}

    def _last_logits(self, texts: Sequence[str]) -> Any:
        # logits_to_keep=1: only the last position's (vocab-sized) logits are computed.
        return self.model(**self._batch(texts), logits_to_keep=1).logits[:, -1, :]

    def _batches(self, n: int) -> Iterator[list[int]]:
        order = list(range(n))
        random.Random(self.seed).shuffle(order)
        for start in range(0, n, self.batch_size):
            yield order[start : start + self.batch_size]

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        """A short fine-tune: `epochs` passes (or `max_steps` steps) of AdamW."""
        import torch

        check_trainable(labels, "LM classifier")
        torch.manual_seed(self.seed)
        steps_per_epoch = math.ceil(len(texts) / self.batch_size)
        total = self.max_steps or max(1, math.ceil(self.epochs * steps_per_epoch))
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=0.0)
        self.model.train()
        while self.steps_done < total:
            for batch in self._batches(len(texts)):
                targets = torch.tensor([self.answer_ids[0 if labels[i] else 1] for i in batch])
                logits = self._last_logits([texts[i] for i in batch])
                loss = torch.nn.functional.cross_entropy(logits, targets)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                self.steps_done += 1
                self.losses.append(float(loss.detach()))
                logger.debug("lm classifier step %d loss %.4f", self.steps_done, self.losses[-1])
                if self.steps_done >= total:
                    break
        self.model.eval()

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(" True") - P(" False") for each text."""
        import torch

        scores: list[float] = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                probs = self._last_logits(texts[start : start + self.batch_size]).softmax(-1)
                diff = probs[:, self.answer_ids[0]] - probs[:, self.answer_ids[1]]
                scores.extend(diff.tolist())
        return np.array(scores, dtype=float)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory / "model")
        self.tokenizer.save_pretrained(directory / "model")
        settings = {
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "base": self.source,
        }
        (directory / "lm.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LMClassifier:
        settings = json.loads((directory / "lm.json").read_text(encoding="utf-8"))
        return cls(
            directory / "model",
            batch_size=settings["batch_size"],
            max_length=settings["max_length"],
        )
