#!/usr/bin/env python3
"""Regenerates reference_ids.json: the token ids that the project's reference tokenizer
(/work/shared/reference/llama_ref.py, class BPETokenizer: GPT-2 byte-level BPE with the smollm
pre-tokenizer, written with Python's `regex` module) gives for a set of tricky strings on the real
model, SmolLM2-135M-Instruct.Q4_1.gguf.

It also records, for every string, how Python's `regex` splits it with the three pre-tokenizer
patterns the Swift code implements by hand (gpt2, smollm, llama3), so that the hand-written
splitters are checked against a real regex engine as well.

Usage: python3 make_reference_ids.py [MODEL.gguf] [REFERENCE_DIR]
  MODEL defaults to $LOCKSTEP_MODEL, else $LOCKSTEP_CACHE (or ~/.cache/lockstep)/SmolLM2-135M-Instruct.Q4_1.gguf
  REFERENCE_DIR defaults to /work/shared/reference
"""
import hashlib, json, os, sys

import regex
from gguf import GGUFReader

here = os.path.dirname(os.path.abspath(__file__))
default_model = os.environ.get("LOCKSTEP_MODEL") or os.path.join(
    os.environ.get("LOCKSTEP_CACHE") or os.path.expanduser("~/.cache/lockstep"),
    "SmolLM2-135M-Instruct.Q4_1.gguf")
model = sys.argv[1] if len(sys.argv) > 1 else default_model
refdir = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/reference"
sys.path.insert(0, refdir)
from llama_ref import BPETokenizer  # noqa: E402

PAT_GPT2 = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
PAT_LLAMA3 = regex.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

STRINGS = [
    # empty and trivial
    "",
    " ",
    "a",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    # digits and long numbers
    "1",
    "2024",
    "3.14159265358979323846",
    "Call 555-0123 or +1 (800) 555-0199 before 12:30pm on 2024-02-29.",
    "12345678901234567890123456789012345678901234567890",
    "x1y22z333 v10.2.3 0x7FFF 1e-9 ½ ² Ⅻ ٣٤٥ ४२",
    "Total: $1,234,567.89 (≈ €1.1M)",
    # runs of spaces, newlines, tabs, trailing whitespace
    "a  b   c    d",
    "   leading spaces",
    "trailing spaces   ",
    "line one\nline two\n\nline four\n",
    "\n\n\n",
    "tabs\tand\t\ttabs\t",
    "mixed \t\n \r\n\u000b\u000c whitespace",
    "windows\r\nline\r\nendings\r\n",
    "  \n  indented\n    more\n",
    "non\u00a0breaking\u2003em\u3000ideographic\u2009thin",
    # contractions
    "I'm sure you'll see they've done it; she'd say it's what we're doing.",
    "I'M SURE YOU'LL SEE THEY'VE DONE IT; SHE'D SAY IT'S WHAT WE'RE DOING.",
    "don't can't won't o'clock 'quoted' rock'n'roll",
    "It\u2019s curly \u2018quotes\u2019 and \u201cdouble\u201d ones",
    "'s 't 're 've 'm 'll 'd ''",
    # accents and combining marks
    "café naïve résumé coöperate façade",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O",
    "Ångström über Straße ĳ ﬁ",
    # CJK, other scripts
    "日本語のテキストです。",
    "中文分词测试：你好，世界！",
    "한국어 텍스트 처리",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Ελληνικά: αβγδε ΑΒΓΔΕ",
    "English, русский, 日本語, and عربي in one line.",
    # emoji
    "😀",
    "I love 🍕 and 🍣!",
    "👨\u200d👩\u200d👧\u200d👦 family",
    "🏳️\u200d🌈 flag 🇫🇷🇯🇵",
    "👍🏽 thumbs, ❤️ heart, ✔ check",
    "emoji🙂glued🙃together",
    # code, URLs, markup
    "def f(x):\n    return x**2 + 1  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if x != None and y >= 3: print(f\"{x=}\")",
    "https://example.com/path/to/page?query=value&other=123#anchor",
    "mailto:someone@example.org",
    "<div class=\"main\">Hello</div>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "SELECT * FROM users WHERE id = 42;",
    "$ echo $HOME && ls -la ~/.cache | grep -v '^d'",
    "```swift\nlet x: [Int] = [1, 2, 3]\n```",
    # special-token text (tokenized as plain text when parseSpecial is false)
    "<|im_start|>",
    "<|im_start|>user\nHi<|im_end|>",
    "<|endoftext|><repo_name>x<file_sep>",
    "<|im_start|>assistant\n<think>ok</think>",
    # punctuation runs and symbols
    "!!!???...,,,;;;",
    "-- --- — – … ‽",
    "a+b=c; a*b=c/d; a^b%c",
    "@user #hashtag $money %percent &and *star",
    "©®™ §¶ †‡ •◦ ←→↑↓ ∀∃∈∉ ≤≥≠",
    # invalid-looking / unusual unicode (all valid scalars)
    "\ufffd replacement char",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "\ufeffBOM at start",
    "private use \ue000\uf8ff",
    "noncharacters \ufffe\uffff \U0010ffff",
    "\u0000null\u0001control\u001f\u007f",
    "soft\u00adhyphen and dis\u00adcretionary",
    "bidi \u202eoverride\u202c and \u2066isolate\u2069",
    "tag \U000e0041\U000e0042 variation \ufe0f selectors",
    "ſ long s and 'ſ after apostrophe",
    "\U0001d400\U0001d401 math bold, \U0001f600 astral",
    # mixed
    "The year 1984 had 365 days; 2024 had 366.",
    "Version 2.0-beta+build.123 released",
    "I'm 25 years old and I've 3 cats'",
]

def pretok_splits(text):
    digit_split = []
    last = 0
    for m in regex.finditer(r"\p{N}", text):
        if m.start() > last: digit_split.append(text[last:m.start()])
        digit_split.append(m.group()); last = m.end()
    if last < len(text): digit_split.append(text[last:])
    smollm = [w for p in digit_split for w in PAT_GPT2.findall(p)]
    return {"gpt2": PAT_GPT2.findall(text), "smollm": smollm, "llama3": PAT_LLAMA3.findall(text)}

def main():
    r = GGUFReader(model)
    f = lambda k: r.fields[k].contents()
    tok = BPETokenizer(f("tokenizer.ggml.tokens"), f("tokenizer.ggml.merges"))
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    cases = []
    for s in STRINGS:
        ids = tok.encode(s)
        assert tok.decode(ids) == s, s
        splits = pretok_splits(s)
        assert splits["smollm"] == tok._pre(s), s
        cases.append({"text": s, "ids": ids, "pretokens": splits})
    prose = open("/usr/share/common-licenses/Apache-2.0", encoding="utf-8").read()
    out = {
        "generator": "make_reference_ids.py (reference: llama_ref.BPETokenizer)",
        "model": os.path.basename(model),
        "model_sha256": sha,
        "cases": cases,
        "prose": {"source": "Apache License 2.0 text (/usr/share/common-licenses/Apache-2.0)",
                  "text": prose, "ids": tok.encode(prose)},
    }
    with open(os.path.join(here, "reference_ids.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=True, indent=1)
        fh.write("\n")
    print(f"{len(cases)} cases, prose {len(prose)} chars -> {len(out['prose']['ids'])} ids")

if __name__ == "__main__":
    main()
