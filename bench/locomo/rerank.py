#!/usr/bin/env python3
"""bench/locomo/rerank.py -- replay a re-ranking idea over a search's top N.

    bench/locomo/run SPLIT.json /tmp/r.jsonl --depth 200 --scores /tmp/s.jsonl
    bench/locomo/rerank.py SPLIT.json /tmp/s.jsonl /tmp/x.jsonl IDEA [k=v ...]
    python3 ../shared/data/locomo/evaluate.py SPLIT.json /tmp/x.jsonl
    bench/locomo/paired.py SPLIT.json /tmp/r.jsonl /tmp/x.jsonl

Prototypes the ranking ideas of issue #17 before any is built into the
store: it reads the default search's scored top N (`--scores`), adds one
idea's term to each result's score, sorts again and writes a runs file
for the scorer. Only the fields TASK.md allows are read: the turns
(dia_id, speaker, text, blip_caption), the session dates and each QA's
`question`; the scorer and paired.py read the evidence, this never does.

The ideas' lexical parts use their own BM25 (k1 1.2, b 0.75, the store's
stopword list, a crude suffix-stripping stemmer) over the same texts the
bench indexes (date + turns i-2..i+2 + turn i), so they approximate
FTS5's scores rather than repeat them. IDEAs and their parameters
(defaults in brackets):

  none         the input ranking (checks the replay: same table as run)
  session      session score: sum of the best `k` [3] scores of each
               session in the top N (mode=sum) or BM25 of the session's
               turns concatenated (mode=bm25), scaled to [0, 1] by the
               best session; adds w [0.1] x that to each of its turns
  entity_prf   entities of the first round's top `k` [10] results
               (capitalised words not starting a sentence, not a speaker,
               not in the question), the `n` [8] most frequent, as a
               second BM25 query over the windows; adds w [0.05] x its
               score scaled to [0, 1]
  proper_noun  adds w [0.03] when the turn's own text names a proper noun
               (as above) that the question does not
  cooccur      per conversation, the words that co-occur with the
               question's words in the same turns (idf-weighted), the best
               `n` [10] as a second BM25 query; adds w [0.05] x its score
  neighbours   per content word of the question (not a speaker), the `k`
               [6] words of the conversation whose word vectors (the
               store's, data/wordvec-sg100.bin, or $AM_WORDVEC) have a
               cosine of at least `theta` [0.5] with it, as a second BM25
               query over the windows; adds w [0.05] x its score
  diversity    greedy re-ranking of the first 60: a result loses `adj`
               [0.02] for each earlier one within `reach` [1] turns of the
               same session and `sess` [0] for each earlier one of its
               session; with maxq [0] > 0 only for questions of at most
               `maxq` content words (speakers left out)
  combo        the measured positives summed: proper_noun (weight pn
               [0.03]), session mode=sum (sess [0.1], k [3]) and
               neighbours (nb [0.05], nk [6], theta [0.5], top [0]: with
               top > 0 the neighbours come from the words of the first
               `top` results' windows, what a search has at hand, instead
               of the whole conversation); a weight of 0 leaves its term
               out
  sentvec      a sentence encoder's cosine: reads `vecs` (a JSON-lines
               file, one {"k": "t"|"q", "conv", "id": dia_id | qa index,
               "v": [floats]} per turn and per question, made outside
               this script), a turn's vector being the mean of its own and
               its neighbours' within `ctx` [1] turns of the same session;
               adds w [0.3] x the cosine with the question's vector
"""
import collections
import json
import math
import os
import re
import struct
import sys

STOP = set("a about an and are as at be by did do does for from had has "
           "have he her his how i in is it its me my of on or she that the "
           "their them they this to was we were what when where which who "
           "whom why will with you your".split())
# Capitalised words that start sentences in chat more than they name things.
COMMON = set("I The A An And But So Yeah Yes Hey Hi Wow Thanks Thank Oh It "
             "That This What My We You Sounds Great".split())


def stem(w):
    for suf in ("ing", "edly", "ed", "es", "s", "ly"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[:-len(suf)]
    return w


def words(text):
    return [stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())
            if w not in STOP]


class BM25:
    def __init__(self, docs, k1=1.2, b=0.75):
        self.n = len(docs)
        self.df = collections.Counter()
        self.tf = [collections.Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        for c in self.tf:
            self.df.update(c.keys())
        self.avg = sum(self.len) / max(1, self.n)
        self.k1, self.b = k1, b

    def idf(self, w):
        n = self.df.get(w, 0)
        return math.log(1 + (self.n - n + 0.5) / (n + 0.5))

    def score(self, i, query):
        s, tf = 0.0, self.tf[i]
        norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
        for w in query:
            f = tf.get(w, 0)
            if f:
                s += self.idf(w) * f * (self.k1 + 1) / (f + norm)
        return s


def proper_nouns(text, speakers):
    """Capitalised words of a turn's own text that do not start a
    sentence and are not a speaker's name."""
    body = text.split(": ", 1)[1] if ": " in text else text
    out = set()
    for m in re.finditer(r"\b([A-Z][a-zA-Z]+)", body):
        before = body[:m.start()].rstrip()
        if not before or before.endswith((".", "!", "?", '"', ":")):
            continue
        if m.group(1) not in speakers and m.group(1) not in COMMON:
            out.add(m.group(1))
    return out


def load_conv(sample):
    """The allowed fields of one conversation, indexed as the bench does."""
    conv = sample["conversation"]
    nums = sorted(int(k[8:]) for k in conv
                  if re.fullmatch(r"session_\d+", k))
    turns = []
    for n in nums:
        date = conv.get(f"session_{n}_date_time", "")
        for t in conv[f"session_{n}"]:
            text = f"{t['speaker']}: {t['text']}"
            if t.get("blip_caption"):
                text += f" [shares {t['blip_caption']}]"
            turns.append({"id": t["dia_id"], "sess": n, "date": date,
                          "text": text, "speaker": t["speaker"]})
    speakers = {t["speaker"] for t in turns}
    for i, t in enumerate(turns):
        win = [t["date"]]
        win += [u["text"] for u in turns[max(0, i - 2):i + 3]
                if u["sess"] == t["sess"]]
        win.append(t["text"])
        t["win"] = words("\n".join(win))
        t["own"] = words(t["text"])
        t["pn"] = proper_nouns(t["text"], speakers)
    c = {"turns": turns, "speakers": speakers,
         "idx": {t["id"]: i for i, t in enumerate(turns)},
         "bm_win": BM25([t["win"] for t in turns])}
    sess = collections.OrderedDict()
    for t in turns:
        sess.setdefault(t["sess"], []).extend(t["own"])
    c["sess_ids"] = list(sess)
    c["bm_sess"] = BM25(list(sess.values()))
    c["own_sets"] = [set(t["own"]) for t in turns]
    inv = collections.defaultdict(set)
    for i, s in enumerate(c["own_sets"]):
        for w in s:
            inv[w].add(i)
    c["inv"] = inv
    return c


def scaled(d):
    top = max(d.values(), default=0)
    return {k: (v / top if top > 0 else 0.0) for k, v in d.items()}


def turn_of(c, key):
    return c["turns"][c["idx"][key]]


def add_and_sort(ranked, extra):
    r = sorted(((s + extra(x), -i, x) for i, (x, s) in enumerate(ranked)),
               reverse=True)
    return [x for _, _, x in r]


def idea_none(c, question, ranked, p):
    return [x for x, _ in ranked]


def idea_session(c, question, ranked, p):
    w, k, mode = float(p.get("w", 0.1)), int(p.get("k", 3)), p.get("mode",
                                                                  "sum")
    if mode == "bm25":
        q = words(question)
        ss = {c["sess_ids"][i]: c["bm_sess"].score(i, q)
              for i in range(len(c["sess_ids"]))}
    else:
        per = collections.defaultdict(list)
        for x, s in ranked:
            per[turn_of(c, x)["sess"]].append(s)
        ss = {n: sum(sorted(v, reverse=True)[:k]) for n, v in per.items()}
    ss = scaled(ss)
    return add_and_sort(ranked,
                        lambda x: w * ss.get(turn_of(c, x)["sess"], 0))


def second_round(c, ranked, expansion, w):
    if not expansion:
        return [x for x, _ in ranked]
    s2 = scaled({x: c["bm_win"].score(c["idx"][x], expansion)
                 for x, _ in ranked})
    return add_and_sort(ranked, lambda x: w * s2[x])


def idea_entity_prf(c, question, ranked, p):
    k, n, w = int(p.get("k", 10)), int(p.get("n", 8)), float(p.get("w", 0.05))
    q = set(words(question))
    count = collections.Counter()
    for x, _ in ranked[:k]:
        for e in turn_of(c, x)["pn"]:
            if stem(e.lower()) not in q:
                count[stem(e.lower())] += 1
    return second_round(c, ranked, [e for e, _ in count.most_common(n)], w)


def idea_proper_noun(c, question, ranked, p):
    w = float(p.get("w", 0.03))
    named = set(re.findall(r"[A-Z][a-z]+", question))
    return add_and_sort(ranked,
                        lambda x: w if turn_of(c, x)["pn"] - named else 0)


def idea_cooccur(c, question, ranked, p):
    n_terms, w = int(p.get("n", 10)), float(p.get("w", 0.05))
    lower_speakers = {s.lower() for s in c["speakers"]}
    q = [t for t in set(words(question))
         if t in c["inv"] and t not in lower_speakers]
    n = len(c["turns"])
    score = collections.Counter()
    for t in q:
        co = collections.Counter()
        for i in c["inv"][t]:
            co.update(c["own_sets"][i])
        idf_t = math.log(n / len(c["inv"][t]))
        for u, m in co.items():
            if u not in q and m >= 2:
                score[u] += (idf_t * math.log(1 + m) *
                             math.log(n / len(c["inv"][u])))
    return second_round(c, ranked, [u for u, _ in score.most_common(n_terms)],
                        w)


def short_question(c, question, p):
    """With maxq > 0: does the question hold at most `maxq` content words
    (speakers left out)? Short, general questions ("Which cities has John
    been to?") are the ones whose evidence spreads over sessions."""
    maxq = int(p.get("maxq", 0))
    if maxq <= 0:
        return True
    lower_speakers = {stem(x.lower()) for x in c["speakers"]}
    return len(set(words(question)) - lower_speakers) <= maxq


def idea_diversity(c, question, ranked, p):
    adj, sess = float(p.get("adj", 0.02)), float(p.get("sess", 0))
    reach = int(p.get("reach", 1))
    if not short_question(c, question, p):
        return [x for x, _ in ranked]
    rest, out = list(ranked), []
    while rest and len(out) < 20:
        best = None
        for j, (x, s) in enumerate(rest[:60]):
            tx, v = turn_of(c, x), s
            for y in out:
                ty = turn_of(c, y)
                if ty["sess"] == tx["sess"]:
                    v -= sess
                    if abs(c["idx"][x] - c["idx"][y]) <= reach:
                        v -= adj
            if best is None or v > best[0]:
                best = (v, j)
        out.append(rest.pop(best[1])[0])
    return out + [x for x, _ in rest]


class WordVectors:
    """The store's word-vector file (layout in scripts/wordvec_convert.js),
    read word by word: only the few thousand words of a conversation."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        magic, _, self.count, self.dim, self.hsize = struct.unpack_from(
            "<4sIIII", self.data, 0)
        if magic != b"AMWV":
            raise SystemExit(f"rerank: {path} is not a word-vector file")
        o = 20
        self.o_table = o
        o += 4 * self.hsize
        self.offs = struct.unpack_from(f"<{self.count + 1}I", self.data, o)
        o += 4 * (self.count + 1)
        self.o_scale = o
        o += 4 * self.count
        self.o_vec = o
        self.o_pool = o + self.count * self.dim
        self.cache = {}

    def get(self, word):
        if word in self.cache:
            return self.cache[word]
        b = word.encode()
        h = 0x811C9DC5
        for x in b:
            h = ((h ^ x) * 0x01000193) & 0xFFFFFFFF
        h &= self.hsize - 1
        v = None
        while True:
            i = struct.unpack_from("<I", self.data, self.o_table + 4 * h)[0]
            if i == 0:
                break
            i -= 1
            if self.data[self.o_pool + self.offs[i]:
                         self.o_pool + self.offs[i + 1]] == b:
                sc = struct.unpack_from("<f", self.data,
                                        self.o_scale + 4 * i)[0]
                v = [x * sc for x in struct.unpack_from(
                    f"<{self.dim}b", self.data, self.o_vec + i * self.dim)]
                break
            h = (h + 1) & (self.hsize - 1)
        self.cache[word] = v
        return v


_wv = None


def word_vectors():
    global _wv
    if _wv is None:
        here = os.path.dirname(os.path.abspath(__file__))
        _wv = WordVectors(os.environ.get("AM_WORDVEC", os.path.join(
            here, "..", "..", "data", "wordvec-sg100.bin")))
    return _wv


def idea_neighbours(c, question, ranked, p):
    k, theta = int(p.get("k", 6)), float(p.get("theta", 0.5))
    w = float(p.get("w", 0.05))
    tn = term_neighbours(c, question, ranked, k, theta)
    return add_and_sort(ranked, lambda x: w * tn[x])


def term_session(c, ranked, k):
    per = collections.defaultdict(list)
    for x, s in ranked:
        per[turn_of(c, x)["sess"]].append(s)
    ss = scaled({n: sum(sorted(v, reverse=True)[:k])
                 for n, v in per.items()})
    return {x: ss.get(turn_of(c, x)["sess"], 0) for x, _ in ranked}


def term_neighbours(c, question, ranked, k, theta, top=0):
    """With `top` > 0 the vocabulary is the words of the first `top`
    results' windows (what a search has at hand), else the whole
    conversation's."""
    wv = word_vectors()
    if "vocab" not in c:
        seen = set()
        for t in c["turns"]:
            seen.update(x for x in re.findall(r"[a-z]+", t["text"].lower())
                        if x not in STOP and len(x) > 2)
        c["vocab"] = [(x, wv.get(x)) for x in sorted(seen)
                      if wv.get(x) is not None]
    vocab = c["vocab"]
    if top > 0:
        seen = set()
        for x, _ in ranked[:top]:
            i = c["idx"][x]
            for u in c["turns"][max(0, i - 2):i + 3]:
                if u["sess"] == c["turns"][i]["sess"]:
                    seen.update(re.findall(r"[a-z]+", u["text"].lower()))
        vocab = [(x, v) for x, v in vocab if x in seen]
    lower_speakers = {s.lower() for s in c["speakers"]}
    expansion = []
    for x in re.findall(r"[a-z]+", question.lower()):
        v = wv.get(x)
        if x in STOP or x in lower_speakers or len(x) <= 2 or v is None:
            continue
        near = sorted(((sum(a * b for a, b in zip(v, u)), y)
                       for y, u in vocab if stem(y) != stem(x)),
                      reverse=True)
        expansion += [stem(y) for cos, y in near[:k] if cos >= theta]
    if not expansion:
        return {x: 0.0 for x, _ in ranked}
    return scaled({x: c["bm_win"].score(c["idx"][x], expansion)
                   for x, _ in ranked})


def idea_combo(c, question, ranked, p):
    """The measured positives summed (see the module's docstring)."""
    wpn, ws = float(p.get("pn", 0.03)), float(p.get("sess", 0.1))
    wn = float(p.get("nb", 0.05))
    named = set(re.findall(r"[A-Z][a-z]+", question))
    tpn = {x: (1.0 if turn_of(c, x)["pn"] - named else 0.0)
           for x, _ in ranked}
    ts = term_session(c, ranked, int(p.get("k", 3))) if ws else {}
    tn = (term_neighbours(c, question, ranked, int(p.get("nk", 6)),
                          float(p.get("theta", 0.5)), int(p.get("top", 0)))
          if wn else {})
    return add_and_sort(ranked, lambda x: wpn * tpn[x] +
                        ws * ts.get(x, 0) + wn * tn.get(x, 0))


_SENTVEC = {}


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else v


def idea_sentvec(c, question, ranked, p):
    """Needs the question's own key, which the other ideas do not: main()
    passes it in p["_key"]."""
    path, w, ctx = p.get("vecs"), float(p.get("w", 0.3)), int(p.get("ctx", 1))
    if not path:
        raise SystemExit("rerank: sentvec needs vecs=FILE")
    if path not in _SENTVEC:
        vecs = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                vecs[(r["k"], r["conv"], r["id"])] = unit(r["v"])
        _SENTVEC[path] = vecs
    vecs = _SENTVEC[path]
    conv, qa = p["_key"]
    q = vecs[("q", conv, qa)]
    cache = c.setdefault(("sentvec", path, ctx), {})

    def turn_vec(x):
        if x not in cache:
            i = c["idx"][x]
            t = c["turns"][i]
            vs = [vecs[("t", conv, u["id"])]
                  for u in c["turns"][max(0, i - ctx):i + ctx + 1]
                  if u["sess"] == t["sess"]]
            cache[x] = unit([sum(z) / len(vs) for z in zip(*vs)])
        return cache[x]
    cos = {x: sum(a * b for a, b in zip(q, turn_vec(x))) for x, _ in ranked}
    return add_and_sort(ranked, lambda x: w * cos[x])


IDEAS = {"none": idea_none, "session": idea_session,
         "entity_prf": idea_entity_prf, "proper_noun": idea_proper_noun,
         "cooccur": idea_cooccur, "neighbours": idea_neighbours,
         "diversity": idea_diversity, "combo": idea_combo,
         "sentvec": idea_sentvec}


def main(argv):
    if len(argv) < 5 or argv[4] not in IDEAS:
        sys.stderr.write(__doc__)
        return 2
    split_path, scores_path, out_path, idea = argv[1:5]
    params = {}
    for kv in argv[5:]:
        if "=" not in kv:
            sys.stderr.write(f"rerank: parameter '{kv}' is not k=v\n")
            return 2
        k, v = kv.split("=", 1)
        params[k] = v
    try:
        with open(split_path, encoding="utf-8") as f:
            split = json.load(f)
        samples = {s["sample_id"]: s for s in split}
    except (OSError, ValueError, TypeError, KeyError) as e:
        sys.stderr.write(f"rerank: cannot read the split '{split_path}' "
                         f"({e})\n")
        return 1
    convs = {}
    fn = IDEAS[idea]
    try:
        f = open(scores_path, encoding="utf-8")
    except OSError as e:
        sys.stderr.write(f"rerank: cannot read the scores '{scores_path}' "
                         f"({e})\n")
        return 1
    with f, open(out_path + ".tmp", "w", encoding="utf-8") as out:
        for lineno, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                if rec["conv"] != rec["target"] or rec["conv"] not in samples:
                    continue  # a foreign question (--foreign), another split
                sample = samples[rec["conv"]]
                question = sample["qa"][rec["qa_index"]]["question"]
                ranked = [(x, float(s)) for x, s in rec["ranked"]]
            except (ValueError, KeyError, TypeError, IndexError) as e:
                sys.stderr.write(f"rerank: {scores_path}:{lineno}: not a "
                                 f"line of bench_locomo --scores ({e!r})\n")
                os.unlink(out_path + ".tmp")
                return 1
            if rec["conv"] not in convs:
                convs[rec["conv"]] = load_conv(sample)
            params["_key"] = (rec["conv"], rec["qa_index"])
            new = fn(convs[rec["conv"]], question, ranked, params)
            out.write(json.dumps({"conv": rec["conv"],
                                  "qa_index": rec["qa_index"],
                                  "ranked": new[:max(20, len(new))]}) + "\n")
    os.replace(out_path + ".tmp", out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
