"""Harvest the candidate rows of grader_external_v7.jsonl from published eval-output files.

Reads public repositories fetched as bare git mirrors under /work/.mirror (git show HEAD:path, at
the commits listed in README.md, section v7), samples items with a fixed seed per file, and writes
candidates.jsonl (or the path given) without labels, in table order. The labels, notes and the dropped candidates were added by hand
(README.md, "v7 labelling"); the table is frozen, this script only shows how its rows were drawn.
The source's own correctness flag is kept in `source_flag` and used only to stratify the draw (so
that both right and wrong outputs appear); it is not the label.
"""

from __future__ import annotations

import ast
import json
import random
import re
import subprocess
import sys
from pathlib import Path

from harvest import MIRROR, candidate, git_show, stratified, write_candidates

SEED = 7


rows: list[dict] = []


def add(**kw) -> None:
    rows.append(candidate(**kw))


# --- A. hkust-nlp/simpleRL-reason: 100 MATH problems x 8 sampled \boxed{} responses -------------
# The file is the evaluation toolkit's reward-model/majority-vote example; it names no model (the
# system prompt is Qwen2.5-Math-Instruct's). One response per problem: a wrong one where the
# toolkit scored any sample wrong (two where it scored two or more wrong), otherwise a random one;
# then 30 of the all-right problems are kept, so that right and wrong are both well represented.
SR = "hkust-nlp/simpleRL-reason"
SR_PATH = "examples/simplelr_math_eval/data/eval_rm_maj_example/math_cot_100.jsonl"
rng = random.Random(f"{SEED}:{SR}:{SR_PATH}")
sr_right, sr_wrong = [], []
for line in git_show(SR, SR_PATH).splitlines():
    it = json.loads(line)
    wrong = [i for i, s in enumerate(it["score"]) if not s]
    right = [i for i, s in enumerate(it["score"]) if s]
    if wrong:
        sr_wrong += [(it, k) for k in rng.sample(wrong, min(2, len(wrong)))]
    else:
        sr_right.append((it, rng.choice(right)))
rng.shuffle(sr_right)
for it, k in sorted(sr_wrong + sr_right[:30], key=lambda x: (x[0]["idx"], x[1])):
    add(
        family="boxed_math",
        pred=it["code"][k],
        gold=it["gt"],
        question=it["question"],
        model="unnamed (Qwen2.5-Math-Instruct system prompt)",
        source_repo=SR,
        source_path=SR_PATH,
        source_item=f"idx {it['idx']}, sample {k}",
        source_flag=bool(it["score"][k]),
    )

# --- B. mathllm/MATH-V outputs: MATH-Vision CoT responses ending in \boxed{} ---------------------
MV = "mathllm/MATH-V"
MV_PLAN = [
    ("outputs/closed-source/GPT/GPT4-CoT (Text Only).jsonl", "gpt-4-0125-preview (text only)"),
    ("outputs/closed-source/Gemini/Gemini-Pro-CoT.jsonl", "gemini-pro-vision"),
    ("outputs/closed-source/Qwen/Qwen-VL-Max-CoT.jsonl", "qwen-vl-max"),
    ("outputs/open-source/Internlm/InternLM-XComposer2-VL-CoT.jsonl", "InternLM-XComposer2-VL"),
    (
        "outputs/closed-source/GPT/ChatGPT3.5-CoT (Text+Image Caption).jsonl",
        "gpt-3.5-turbo-0125 (text + image caption)",
    ),
]
questions = {
    q["id"]: q for q in (json.loads(x) for x in git_show(MV, "data/test.jsonl").splitlines())
}
INT = re.compile(r"-?\d+")
used_ids: set[str] = set()
for path, model in MV_PLAN:
    out = [json.loads(x) for x in git_show(MV, path).splitlines()]
    out = [o for o in out if o["id"] not in used_ids and o["response"].strip()]
    exact = [
        o
        for o in out
        if not questions[o["id"]]["options"]
        and not INT.fullmatch(questions[o["id"]]["answer"].strip())
    ]
    integer = [
        o
        for o in out
        if not questions[o["id"]]["options"] and INT.fullmatch(questions[o["id"]]["answer"].strip())
    ]
    mc = [o for o in out if questions[o["id"]]["options"]]
    take = []
    for name, pool, n in (("exact", exact, 18), ("int", integer, 14), ("mc", mc, 12)):
        r = random.Random(f"{SEED}:{MV}:{path}:{name}")
        take += stratified(
            [o for o in pool if o["id"] not in used_ids], lambda o: o["correct"], n, r
        )
    for o in take:
        if o["id"] in used_ids:
            continue
        used_ids.add(o["id"])
        q = questions[o["id"]]
        opts = q["options"]
        is_mc = bool(opts)
        letters = opts == list("ABCDE")[: len(opts)]
        add(
            family=(
                "boxed_vqa_choice"
                if is_mc
                else "boxed_vqa_integer"
                if INT.fullmatch(q["answer"].strip())
                else "boxed_vqa_exact"
            ),
            pred=o["response"],
            gold=q["answer"],
            answer_type="choice" if is_mc else "auto",
            choices=None if (not is_mc or letters) else opts,
            question=q["question"],
            model=model,
            source_repo=MV,
            source_path=path,
            source_item=f"id {o['id']}",
            source_flag=bool(o["correct"]),
        )

# MATH-V's exact-form answers are mostly wrong (about 8 % right per model), so the stratified draw
# above returns every right one and many wrong ones; keep the first 8 wrong ones per model (draw
# order), so that the family is not three quarters wrong. This uses the source flag only.
kept: list[dict] = []
wrong_seen: dict[str, int] = {}
for r in rows:
    if r["family"] == "boxed_vqa_exact" and not r["source_flag"]:
        wrong_seen[r["model"]] = wrong_seen.get(r["model"], 0) + 1
        if wrong_seen[r["model"]] > 8:
            continue
    kept.append(r)
rows[:] = kept

# --- C. lupantech/PromptPG: GPT-3 (text-davinci-002) on TabMWP, 2-shot TQ-SA ---------------------
PP = "lupantech/PromptPG"
PP_PATH = "results/gpt3/exp4_test_TQ-SA_2_seed_2.json"
probs = json.loads(git_show(PP, "data/tabmwp/problems_test1k.json"))
res = json.loads(git_show(PP, PP_PATH))["results"]
items = [(pid, r) for pid, r in res.items() if pid in probs]
free = [x for x in items if probs[x[0]]["ques_type"] == "free_text"]
mcq = [x for x in items if probs[x[0]]["ques_type"] == "multi_choice"]
take = stratified(free, lambda x: x[1]["true_false"], 50, random.Random(f"{SEED}:{PP}:free"))
take += stratified(mcq, lambda x: x[1]["true_false"], 20, random.Random(f"{SEED}:{PP}:mc"))
for pid, r in take:
    p = probs[pid]
    is_mc = p["ques_type"] == "multi_choice"
    add(
        family="table_choice" if is_mc else "table_number",
        pred=r["output"],
        gold="ABCDEF"[p["choices"].index(p["answer"])] if is_mc else p["answer"],
        answer_type="choice" if is_mc else "auto",
        unit=p.get("unit") or None,
        choices=p["choices"] if is_mc else None,
        question=p["table"] + "\n\n" + p["question"],
        model="text-davinci-002",
        source_repo=PP,
        source_path=PP_PATH,
        source_item=f"pid {pid}",
        source_flag=bool(r["true_false"]),
    )

# --- D. MMMU-Benchmark/MMMU: MMMU-Pro GPT-4o chain-of-thought, ten options ----------------------
MM = "MMMU-Benchmark/MMMU"
for path, n in (
    ("mmmu-pro/output/gpt-4o_standard(10 options)_cot.jsonl", 30),
    ("mmmu-pro/output/gpt-4o_vision_cot.jsonl", 20),
):
    out = [json.loads(x) for x in git_show(MM, path).splitlines()]
    for o in stratified(out, lambda o: o["if_right"], n, random.Random(f"{SEED}:{MM}:{path}")):
        opts = ast.literal_eval(
            o["options"]
        )  # a Python list literal in the file; literal_eval only
        add(
            family="cot_choice_ten",
            pred=o["response"],
            gold=o["answer"],
            answer_type="choice",
            choices=opts,
            question=o.get("question"),
            model="gpt-4o (MMMU-Pro, " + ("vision" if "vision" in path else "standard") + ")",
            source_repo=MM,
            source_path=path,
            source_item=f"id {o['id']}",
            source_flag=bool(o["if_right"]),
        )

# --- E. MMMU-Benchmark/MMMU: Qwen-VL example outputs on MMMU validation (science subjects) ------
SCI = [
    "Physics",
    "Chemistry",
    "Biology",
    "Math",
    "Electronics",
    "Energy_and_Power",
    "Mechanical_Engineering",
    "Materials",
    "Architecture_and_Engineering",
    "Computer_Science",
]
gt = json.loads(git_show(MM, "mmmu/answer_dict_val.json"))
LETTER = re.compile(r"\(([A-I])\)")
pool = []
for subj in SCI:
    path = f"mmmu/example_outputs/qwen_vl/{subj}/output.json"
    for o in json.loads(git_show(MM, path)):
        if o["question_type"] == "multiple-choice":
            o["_path"] = path
            m = LETTER.findall(o["response"])
            o["_loose"] = bool(m) and m[-1] == gt[o["id"]]["ground_truth"]
            pool.append(o)
for o in stratified(pool, lambda o: o["_loose"], 40, random.Random(f"{SEED}:{MM}:qwen_vl")):
    add(
        family="science_choice",
        pred=o["response"],
        gold=gt[o["id"]]["ground_truth"],
        answer_type="choice",
        choices=[o["index2ans"][k] for k in o["all_choices"]],
        model="Qwen-VL (MMMU example outputs)",
        source_repo=MM,
        source_path=o["_path"],
        source_item=f"id {o['id']}",
        source_flag=None,  # the example outputs store no score; _loose only stratified the draw
    )

# --- F. yale-nlp/Physics: PHYSICS (PhD-qualifying physics) responses of 38 models ---------------
# Only problems with one final answer that is a number with at least two significant figures, a
# power of ten and/or a unit (`29.7 \, \text{MeV}`, `1.76 \times 10^{-14} \text{ cm}^2`); bare
# orders of magnitude (`10^9`), bounds and symbolic answers are left out. One response per problem.
PH = "yale-nlp/Physics"
PH_SETS = ["atomic", "electro", "mechanics", "optics", "quantum", "statistics"]
ph_gold = {}
for d in PH_SETS:
    for line in git_show(PH, f"PHYSICS/{d}_dataset.jsonl").splitlines():
        g = json.loads(line)
        ph_gold[g["id"]] = g
NUMBER = re.compile(r"-?\d+(\.\d+)?(x10\^\{?-?\d+\}?)?(\^\{?-?\d+\}?)?")


def ph_numeric(a: str) -> bool:
    if re.search(r"\\(approx|leq|geq|gtrsim|lesssim|sim)|[<>≈]", a):
        return False
    if re.match(r"^\s*(\w+\s*=\s*)?10\^", a):
        return False  # an order of magnitude
    s = re.sub(r"^[^=]*=", "", a) if a.count("=") == 1 else a
    s = re.sub(r"\\(text|mathrm)\s*\{[^}]*\}", "", s)
    s = re.sub(r"\\[,;:! ]|~", "", s).replace("\\times", "x").replace(" ", "")
    if not NUMBER.fullmatch(s):
        return False
    return len(re.match(r"-?(\d+(\.\d+)?)", s).group(1).replace(".", "").lstrip("0")) >= 2


# Estimates ("Estimate …", "roughly", "order of magnitude") are left out too: how close an estimate
# must be is a matter of judgement that a single tolerance cannot settle.
ESTIMATE = re.compile(r"estimat|rough|approximat|order of magnitude", re.I)
ph_ids = {
    i
    for i, g in ph_gold.items()
    if len(g["final_answers"]) == 1
    and ph_numeric(g["final_answers"][0])
    and not ESTIMATE.search(g["questions"])
}
d0 = MIRROR / PH.replace("/", "+") / "repo"
tree = subprocess.run(
    ["git", "-C", str(d0), "ls-tree", "-r", "--name-only", "HEAD", "outputs"],
    capture_output=True,
    text=True,
    check=True,
).stdout.split()
ph_items = []
for folder in sorted({"/".join(t.split("/")[:3]) for t in tree if t.endswith(".jsonl")}):
    text, path = None, None
    for name in ("final_evaluation.jsonl", "response.jsonl"):
        try:  # files of 4 MiB and more are absent from the snapshot: fall back, or skip
            text, path = git_show(PH, f"{folder}/{name}"), f"{folder}/{name}"
            break
        except subprocess.CalledProcessError:
            continue
    if text is None:
        continue
    for line in text.splitlines():
        try:
            it = json.loads(line)
        except json.JSONDecodeError:
            continue  # a few files hold a truncated last line
        if it.get("id") in ph_ids and it.get("accuracy") in (0.0, 1.0) and it.get("solution"):
            ph_items.append((folder.split("/")[1], path, it))
rng = random.Random(f"{SEED}:{PH}")
pos = [x for x in ph_items if x[2]["accuracy"] == 1.0]
neg = [x for x in ph_items if x[2]["accuracy"] == 0.0]
rng.shuffle(pos)
rng.shuffle(neg)
ph_used: set[str] = set()
for group, n in ((pos, 30), (neg, 30)):
    taken = 0
    for model, path, it in group:
        if taken == n:
            break
        if it["id"] in ph_used:
            continue
        ph_used.add(it["id"])
        taken += 1
        add(
            family="physics_units",
            rtol=0.02,  # constants and rounding differ between solutions; see README, v7 labelling
            pred=it["solution"],
            gold=ph_gold[it["id"]]["final_answers"][0],
            question=ph_gold[it["id"]]["questions"].strip(),
            model=model.removesuffix("_output").removesuffix("_outputs"),
            source_repo=PH,
            source_path=path,
            source_item=f"id {it['id']}",
            source_flag=it["accuracy"] == 1.0,
        )

# --- G. THUDM/ChatGLM-Math: GPT-4 answers to MathUserEval (Chinese) ----------------------------
# The file stores each question's reference as a worked solution in prose, not as a value, and no
# score (the judgement file is absent from the snapshot). References under 250 characters were
# shuffled with a fixed seed and read in that order; for each one that ends in a single definite
# value (or a short ordered tuple), I transcribed that value as `gold` (ZH_GOLD, keyed by question_id
# and subcategory). Proofs, open questions, sets of several solutions, "+ C" antiderivatives and four
# references I judged wrong or not checkable (qid 228, 307, 99, 333) were passed over.
CG = "THUDM/ChatGLM-Math"
CG_PATH = "data/model_answer/gpt-4-1106-preview.jsonl"
ZH_GOLD: dict[tuple[int, str], tuple[str, str | None]] = {
    (142, "calculate"): ("3360", None),
    (139, "calculate"): ("6", None),
    (216, "geometry"): ("\\frac{2\\pi+1}{2\\pi}", None),
    (463, "linear_algebra"): ("-1", None),
    (287, "trigonometry"): ("-\\frac{1}{2}", None),
    (167, "Probability"): ("\\frac{5}{6}", None),
    (83, "algebra"): ("4117", None),
    (50, "calculate"): ("3", None),
    (184, "linear_algebra"): ("(7, 10, -9)", None),
    (40, "calculate"): ("37, 50, 65", None),
    (401, "Probability"): ("0", None),
    (214, "calculate"): ("2000", None),
    (316, "trigonometry"): ("\\frac{2\\pi}{3}", None),
    (291, "trigonometry"): ("\\frac{1}{3}", None),
    (275, "trigonometry"): ("\\sqrt{2}", None),
    (233, "calculate"): ("105", None),
    (310, "trigonometry"): ("\\frac{3\\sqrt{3}}{4}", None),
    (397, "Probability"): ("0", None),
    (187, "algebra"): ("9", None),
    (314, "trigonometry"): ("\\frac{\\pi}{3}", None),
    (13, "calculate"): ("12, 13", None),
    (159, "calculate"): ("5", None),
    (362, "discrete"): ("\\frac{n(n-1)}{2}", None),
    (392, "Probability"): ("0.25", None),
    (225, "geometry"): ("301.106\\pi", "\\mathrm{cm}^3"),
    (368, "discrete"): ("\\frac{n(n-1)}{2}-m", None),
    (297, "trigonometry"): ("\\frac{64}{25}", None),
    (206, "geometry"): ("400", "mm"),
    (486, "linear_algebra"): ("0", None),
    (122, "algebra"): ("-\\frac{2}{25}", None),
    (10, "calculate"): ("50005000", None),
    (59, "calculate"): ("10001000", None),
    (190, "calculus"): ("e^{x+\\sin x}+e^{-(x+\\sin x)}", None),
    (367, "discrete"): ("x=3, y=2", None),
    (272, "trigonometry"): ("6", None),
    (349, "discrete"): ("1107568", None),
    (149, "algebra"): ("\\frac{3}{4}", None),
    (108, "algebra"): ("1.5445", None),
    (218, "geometry"): ("9\\pi", None),
    (385, "Probability"): ("1", None),
    (56, "calculate"): ("m=17, n=22", None),
    (303, "trigonometry"): ("\\frac{\\sqrt{15}}{3}", None),
    (197, "geometry"): ("2\\pi r(r+h)", None),
    (281, "trigonometry"): ("208.56^\\circ", None),
    (461, "linear_algebra"): ("3", None),
    (360, "discrete"): ("\\{3\\}", None),
    (400, "Probability"): ("(4.412, 5.588)", None),
    (290, "trigonometry"): ("2", None),
    (55, "calculate"): ("8, 5", None),
    (90, "algebra"): ("(-1,1)\\cup(2,3)", None),
    (199, "discrete"): ("2^n-1", None),
    (246, "geometry"): ("\\pm\\frac{\\sqrt{6}}{2}", None),
    (182, "algebra"): ("\\frac{t^2}{2}", None),
}
for n, line in enumerate(git_show(CG, CG_PATH).splitlines(), start=1):
    it = json.loads(line)
    key = (it["question_id"], it["subcategory"])
    if key not in ZH_GOLD:
        continue
    gold, unit = ZH_GOLD[key]
    add(
        family="zh_prose",
        pred=it["answer"],
        gold=gold,
        unit=unit,
        question=it["question"],
        model=it["model_id"],
        source_repo=CG,
        source_path=CG_PATH,
        source_item=f"line {n}, question_id {it['question_id']} ({it['subcategory']})",
        source_flag=None,
    )

# --- Exact duplicates: a response string that a retired table (v1–v6) already holds, or the same
# (response, reference) pair twice in this draw, is left out (first occurrence kept). --------------
earlier = set()
for table in sorted(Path(__file__).parent.glob("grader_*.jsonl")):
    if "_v7" not in table.stem:
        earlier |= {json.loads(x)["pred"] for x in table.read_text(encoding="utf-8").splitlines()}
pairs: set[tuple[str, str]] = set()
unique = []
for r in rows:
    if r["pred"] in earlier or (r["pred"], r["gold"]) in pairs:
        continue
    pairs.add((r["pred"], r["gold"]))
    unique.append(r)
rows[:] = unique

write_candidates(rows, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v7work/candidates.jsonl"))
