"""Harvest the candidate rows of grader_external_v8.jsonl from published eval-output files.

Reads public repositories fetched as bare git mirrors under /work/.mirror (git show HEAD:path, at
the commits listed in README.md, section v8), samples items with a fixed seed per file, and writes
the candidates in table order (`python bench/data/grader_v8_harvest.py OUT.jsonl`). With
`--table OUT.jsonl` it joins the hand labels of `grader_v8_labels.json` (id -> [label, note]; a
null label means the row was dropped) and writes the frozen table itself. The loose "answer
equals target" flag below only stratifies the draw, so that right and wrong outputs both appear;
it is never the label.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from harvest import candidate, git_show, new_rows, stratified, write_candidates, write_table

SEED = 8
rows: list[dict] = []


def add(**kw) -> None:
    rows.append(candidate(**kw))


# --- A. suzgunmirac/BIG-Bench-Hard: code-davinci-002 outputs (3-shot CoT and direct) -------------
# Each file stores {"input": few-shot prompt + question, "prediction", "target"} for 250 items (146
# for penguins). The question is the prompt's last "Q:" block; multiple-choice options are read
# from its "Options:" lines. The file stores no per-item score, so the draw is stratified on a
# loose test: the last "the answer is X" (CoT) or the stripped prediction (direct) equals target.
BBH = "suzgunmirac/BIG-Bench-Hard"
BBH_PLAN: list[tuple] = [  # (task, mode, n, family[, share drawn loose-right, default 0.5])
    ("multistep_arithmetic_two", "cot", 100, "cot_arith"),
    ("object_counting", "cot", 70, "cot_count"),
    ("date_understanding", "cot", 40, "cot_choice"),
    ("penguins_in_a_table", "cot", 30, "cot_choice"),
    ("reasoning_about_colored_objects", "cot", 30, "cot_choice"),
    ("geometric_shapes", "cot", 25, "cot_choice"),
    ("logical_deduction_five_objects", "cot", 25, "cot_choice"),
    ("tracking_shuffled_objects_three_objects", "cot", 15, "cot_choice"),
    ("logical_deduction_three_objects", "cot", 20, "cot_choice"),
    ("temporal_sequences", "cot", 20, "cot_choice"),
    # added after the first draw held too few right outputs: drawn 70 % loose-right
    ("tracking_shuffled_objects_five_objects", "cot", 20, "cot_choice", 0.7),
    ("logical_deduction_seven_objects", "cot", 15, "cot_choice", 0.7),
    ("hyperbaton", "cot", 15, "cot_choice", 0.7),
    ("movie_recommendation", "cot", 15, "cot_choice", 0.7),
    ("multistep_arithmetic_two", "direct", 50, "direct_number"),
    ("object_counting", "direct", 30, "direct_number"),
    ("date_understanding", "direct", 25, "direct_choice"),
    ("penguins_in_a_table", "direct", 15, "direct_choice"),
    ("reasoning_about_colored_objects", "direct", 15, "direct_choice"),
]
ANS = re.compile(r"answer is\s*(.+?)\.?\s*$", re.S)
OPT = re.compile(r"^\(([A-R])\)\s*(.*)$")


def loose(pred: str, target: str, mode: str) -> bool:
    if mode == "direct":
        return pred.strip() == target
    tail = pred.rsplit("answer is", 1)
    return len(tail) == 2 and tail[1].strip().rstrip(".").strip() == target


def question_of(inp: str) -> tuple[str, list[str] | None]:
    q = inp.rsplit("\n\nQ: ", 1)[-1]
    q = re.sub(r"\nA:( Let's think step by step\.)?\s*$", "", q)
    opts = [OPT.match(line) for line in q.split("\n")]
    choices = [m.group(2) for m in opts if m]
    return q, choices or None


for task, mode, n, family, *share in BBH_PLAN:
    path = (
        f"code-davinci-002-outputs/code-davinci-002-{mode}/{task}_few_shot_template_0-255000.json"
    )
    out = json.loads(git_show(BBH, path))["outputs"]
    items = list(enumerate(out))
    rng = random.Random(f"{SEED}:{BBH}:{path}")

    def flag(x: tuple[int, dict], mode: str = mode) -> bool:
        return loose(x[1]["prediction"], x[1]["target"], mode)

    take = stratified(items, flag, n, rng, *share)
    if task == "multistep_arithmetic_two" and mode == "direct":
        # direct arithmetic is right on only 3 of the 50 drawn (on the loose flag); keep those and
        # the first 20 loose-wrong ones in draw order, so that the family is not nine tenths wrong
        take = [x for x in take if flag(x)] + [x for x in take if not flag(x)][:20]
    for i, o in sorted(take, key=lambda x: x[0]):
        q, choices = question_of(o["input"])
        is_mc = o["target"].startswith("(") and choices is not None
        add(
            family=family,
            pred=o["prediction"],
            gold=o["target"].strip("()") if is_mc else o["target"],
            answer_type="choice" if is_mc else "auto",
            choices=choices if is_mc else None,
            question=q,
            model=f"code-davinci-002 ({mode}, 3-shot)",
            source_repo=BBH,
            source_path=path,
            source_item=f"outputs[{i}]",
            source_flag=None,
        )

# --- B. IAAR-Shanghai/xVerify: the ten human-judged examples shipped with the verifier ----------
XV = "IAAR-Shanghai/xVerify"
XV_PATH = "src/xVerify/examples/eval_examples.json"
for i, e in enumerate(json.loads(git_show(XV, XV_PATH))):
    if e["key_answer_type"] not in ("math", "alphabet_option"):
        continue  # short_text / categorical_label answers are no grader case
    add(
        family="verifier_examples",
        pred=e["llm_output"],
        gold=e["correct_answer"],
        answer_type="choice" if e["key_answer_type"] == "alphabet_option" else "auto",
        question=e["question"],
        model=e["model_name"],
        source_repo=XV,
        source_path=XV_PATH,
        source_item=f"[{i}] {e['dataset']}",
        source_flag=e["human_judgment_result"] == "Correct",
    )

# --- C. open-compass/CompassVerifier: the example responses in its evaluation notebook -----------
CV = "open-compass/CompassVerifier"
CV_PATH = "src/cv_eval.ipynb"
for cell in json.loads(git_show(CV, CV_PATH))["cells"]:
    src = "".join(cell.get("source", []))
    if "test_sample = [" not in src:
        continue
    # the list is a Python literal of str-only dicts; read it as JSON (no eval of anything)
    body = src.split("test_sample = ", 1)[1]
    body = body[: body.rindex("]") + 1]
    for i, e in enumerate(json.loads(re.sub(r",\s*([}\]])", r"\1", body))):
        # a GAOKAO-style gold is stored as a list literal of letters ("['C']"): the letter is the
        # reference, and the options are the question's "A. ..." lines
        mc = re.fullmatch(r"\['([A-D])'\]", e["gold_answer"])
        opts = re.findall(r"^[A-D]\. (.*)$", e["question"], re.M) if mc else None
        add(
            family="verifier_examples",
            pred=e["llm_response"],
            gold=mc.group(1) if mc else e["gold_answer"],
            answer_type="choice" if mc else "auto",
            choices=opts or None,
            question=e["question"],
            model="unnamed (CompassVerifier notebook example)",
            source_repo=CV,
            source_path=CV_PATH,
            source_item=f"test_sample[{i}]",
            source_flag=None,
        )

# --- D. amazon-science/auto-cot: the demos Auto-CoT built with zero-shot CoT (GPT-3) -------------
AC = "amazon-science/auto-cot"
AC_PATH = "demos/multiarith_auto"
for i, d in enumerate(json.loads(git_show(AC, AC_PATH))["demo"]):
    add(
        family="zero_shot_prose",
        pred=d["rationale"],
        gold=d["gold_ans"],
        question=d["question"].removeprefix("Q: ").removesuffix("\nA:"),
        model="text-davinci-002 (zero-shot CoT, Auto-CoT demo)",
        source_repo=AC,
        source_path=AC_PATH,
        source_item=f"demo[{i}]",
        source_flag=d["pred_ans"] == d["gold_ans"],
    )

# --- E. open-compass/GAOKAO-Eval: 12 models on the 2024 gaokao physics and chemistry papers -------
# Each notebook's first cell is markdown: "## 题目编号：N" blocks with the reference ("## 题目标答",
# a bare letter for chemistry, a worked solution ending "故选X" for physics) and "## <model> 模型输出".
# The question text is not stored. Only multiple-choice items (a letter reference) are used; for each
# (paper, subject, item), two of the twelve models' responses are drawn at random.
GE = "open-compass/GAOKAO-Eval"
GE_BLOCK = re.compile(
    r"(\d+)(（含图片）)?\n## 题目标答\n(.*?)\n## (.+?) 模型输出\n(.*?)(?:\n-{8}\s*)?$", re.S
)


def ge_letters(ref: str) -> str | None:
    ref = ref.strip()
    if re.fullmatch(r"[A-D]{1,4}", ref):
        return ref
    m = re.findall(r"故选\s*([A-D]{1,4})", ref)
    return m[-1] if m else None


ge_items: dict[tuple[str, str], list[dict]] = {}
for paper in ("全国甲卷", "新课标"):
    for subject in ("物理", "化学"):
        for model in (
            "Mixtral-8x22B-Instruct-v0.1", "Qwen2-57B-A14B-Instruct", "Qwen2-72B-Instruct",
            "Yi-1.5-34B-Chat", "glm-4-9b-chat", "glm-4v-9b", "gpt-4o-vl", "gpt-4o",
            "internlm2-wqx-20b", "internlm2-wqx-vl-20b", "qwenvl-7b", "yi-vl-34b",
        ):  # fmt: skip
            path = f"results/{paper}/{subject}/{paper}{subject}_{model}.ipynb"
            md = "".join(json.loads(git_show(GE, path))["cells"][0]["source"])
            for block in re.split(r"\n## 题目编号：", "\n" + md)[1:]:
                m = GE_BLOCK.match(block)
                gold = m and ge_letters(m.group(3))
                if not gold or not m.group(5).strip():
                    continue
                ge_items.setdefault((f"{paper}{subject}", m.group(1)), []).append(
                    {"path": path, "model": model, "gold": gold, "img": bool(m.group(2)),
                     "pred": m.group(5).rstrip()}
                )  # fmt: skip
for key in sorted(ge_items):
    r = random.Random(f"{SEED}:{GE}:{key[0]}:{key[1]}")
    for e in r.sample(ge_items[key], min(2, len(ge_items[key]))):
        add(
            family="zh_science_choice",
            pred=e["pred"],
            gold=e["gold"],
            answer_type="choice",
            model=e["model"],
            source_repo=GE,
            source_path=e["path"],
            source_item=f"题目编号 {key[1]}" + ("（含图片）" if e["img"] else ""),
            source_flag=None,
        )

rows[:] = new_rows(rows, "v8")  # exact duplicates of earlier tables or of this draw left out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        write_candidates(rows, Path("/dev/null"))  # stamps the commits
        write_table(rows, "v8", Path(sys.argv[2]))
    else:
        write_candidates(rows, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v8work/cand.jsonl"))
