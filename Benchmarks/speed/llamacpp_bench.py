#!/usr/bin/env python3
"""The peer: llama.cpp (llama-cpp-python 0.3.36 built from source, DESIGN §6) on the same prompt
token ids as `lockstep bench`, 2 threads: prefill of the whole prompt in one eval, then greedy
decode one token at a time (raw eval loop). Prints one JSON object like `lockstep bench --json`.
Usage: llamacpp_bench.py MODEL PROMPT_IDS_FILE DECODE_TOKENS [THREADS]
"""
import json, resource, sys, time
import numpy as np
import llama_cpp, llama_cpp.llama as _L

# This VM faults on AMX: turn off llama.cpp's extra buffer types (its AMX repacking path).
_orig = llama_cpp.llama_model_default_params
def _patched():
    p = _orig(); p.use_extra_bufts = False; return p
_L.llama_cpp.llama_model_default_params = _patched
from llama_cpp import Llama

model, ids_file, n_decode = sys.argv[1], sys.argv[2], int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
prompt = [int(t) for t in open(ids_file).read().split()]
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
llm.reset()
t0 = time.perf_counter()
llm.eval(prompt)
prefill = time.perf_counter() - t0
t1 = time.perf_counter()
for _ in range(n_decode):
    logits = np.asarray(llm.scores[llm.n_tokens - 1])
    llm.eval([int(np.argmax(logits))])
decode = time.perf_counter() - t1
print(json.dumps({
    "backend": "llama.cpp", "threads": threads, "prompt_tokens": len(prompt), "decode_tokens": n_decode,
    "prefill_seconds": prefill, "prefill_tokens_per_second": len(prompt) / prefill,
    "decode_seconds": decode, "decode_tokens_per_second": n_decode / decode,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
