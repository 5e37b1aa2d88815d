#!/usr/bin/env python3
"""Accuracy of `lockstep score` against the float32 numpy reference (../shared/reference).

For each text file: tokens from lockstep (checked equal to the reference tokenizer's), then the
reference model teacher-forced over the same tokens; reports top-1 agreement and perplexity.
Usage: python3 Benchmarks/accuracy/score_vs_reference.py [--backend B] [--lockstep PATH] TEXT...
Needs: numpy, gguf, regex (pip), the real model in the cache, a release build of lockstep.
"""
import argparse, json, math, os, subprocess, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "..", "..", "shared", "reference")
sys.path.insert(0, os.environ.get("LOCKSTEP_REFERENCE_DIR", REF))
from llama_ref import LlamaRef  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("texts", nargs="+")
ap.add_argument("--backend", default="reference")
ap.add_argument("--lockstep", default=os.path.join(HERE, "..", "..", ".build", "release", "lockstep"))
ap.add_argument("--model", default=os.environ.get("LOCKSTEP_MODEL") or os.path.join(
    os.environ.get("LOCKSTEP_CACHE", os.path.expanduser("~/.cache/lockstep")), "SmolLM2-135M-Instruct.Q4_1.gguf"))
a = ap.parse_args()

ref = LlamaRef(a.model)
total_agree = total_n = 0
ours_nll = ref_nll = 0.0
for path in a.texts:
    t0 = time.time()
    out = subprocess.run([a.lockstep, "score", "--model", a.model, "--text-file", path, "--backend", a.backend, "--json"],
                         check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)
    t_ours = time.time() - t0
    tokens = ours["tokens"]
    ref_tokens = ref.tok.encode(open(path, encoding="utf-8").read())
    assert tokens == ref_tokens, f"{path}: tokenizers disagree"
    ref.reset()
    top1, nll = [], []
    for i, t in enumerate(tokens[:-1]):
        logits = ref.step(t).astype(np.float64)
        top1.append(int(np.argmax(logits)))
        m = logits.max()
        nll.append(-(logits[tokens[i + 1]] - m - math.log(np.exp(logits - m).sum())))
    agree = sum(int(x == y) for x, y in zip(top1, ours["top1"]))
    n = len(top1)
    ppl_ref = math.exp(sum(nll) / n)
    print(f"{os.path.basename(path)}: {n} positions, top-1 agreement {agree}/{n} ({100 * agree / n:.2f}%), "
          f"perplexity lockstep {ours['perplexity']:.4f} vs reference {ppl_ref:.4f} "
          f"({100 * (ours['perplexity'] / ppl_ref - 1):+.3f}%), lockstep {t_ours:.1f} s")
    total_agree += agree; total_n += n
    ours_nll += sum(ours["nll"]); ref_nll += sum(nll)
p_ours, p_ref = math.exp(ours_nll / total_n), math.exp(ref_nll / total_n)
print(f"ALL: top-1 agreement {total_agree}/{total_n} ({100 * total_agree / total_n:.2f}%), "
      f"perplexity {p_ours:.4f} vs {p_ref:.4f} ({100 * (p_ours / p_ref - 1):+.3f}%)")
