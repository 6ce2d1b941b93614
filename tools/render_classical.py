#!/usr/bin/env python3
"""Render the small classical-music dataset embedded in audiozoo.

The excerpts under ``plugins/classical/audio/`` are synthesised from
public-domain scores in the music21 corpus (Bach chorales and keyboard
works, Haydn/Mozart/Beethoven/Schumann string quartets, Chopin, Clara
Schumann, C.P.E. Bach, Corelli) with FluidSynth and the General MIDI
soundfont FluidR3_GM.  Each excerpt is a 30.0 s mono OGG Vorbis file at
22050 Hz.  The script is needed only to *re-render* the data; audiozoo
itself never imports it.

Requirements (rendering only, never at run time)::

    apt-get install fluidsynth fluid-soundfont-gm   # /usr/share/sounds/sf2/FluidR3_GM.sf2
    pip install music21 soundfile numpy            # music21 ships the corpus

Run from the repository root::

    python tools/render_classical.py --out plugins/classical/audio --count 64

It writes ``<nn>_<composer>_<work>_<instrument>.ogg`` files into ``--out``
and the source/licence list ``plugins/classical/sources.csv`` (``--csv``).
Existing ``*.ogg`` files in ``--out`` are removed first.  Takes about
5-10 minutes on 2 cores.

``--set unseen`` renders, the same way, a second set held out for checking
recipes (docs/dataset.md): composers and instruments the embedded set does not
have -- Palestrina masses, Monteverdi madrigals, Trecento and Josquin
polyphony, songs and dances from Handel to Joplin, played by guitar, harp,
brass, saxophones, accordion, recorders, marimba or vibraphone::

    python tools/render_classical.py --set unseen --out ../data/unseen --count 64

Its sources CSV goes beside the audio (``<out>/sources.csv``).  The default
set is ``embedded``, rendered exactly as before.

How an excerpt is made
----------------------
* Slots cycle through four instrument families so the mix is balanced:
  strings, piano, organ, mixed ensembles (the mixed slots cycle through
  winds+strings, harpsichord, choir "oohs/aahs" and a wind ensemble).
* Every slot takes the next unused piece (one movement = one piece; no
  piece is used twice) from a per-family candidate list that is shuffled
  with a fixed seed.  A piece that cannot give 30 s of continuous music is
  skipped, deterministically.
* GM programs per part (top to bottom) are drawn from a ``random.Random``
  seeded with ``seed:corpus_path:family``, so they are reproducible.
* Tempo: all tempo marks are replaced by one constant tempo: 80 qpm for
  chorales; otherwise from the tempo word at the start of the score
  (Adagio, Allegro, Presto, ... see TEMPO_WORDS), else the score's first
  metronome mark, else 96 beats/min.  Repeats are expanded (or dropped
  where malformed).
* Only the first measures (enough for ~80 s) are written to MIDI and
  rendered with ``fluidsynth -ni -r 44100 -O float`` (default reverb and
  chorus), mixed to mono and decimated to 22050 Hz with a windowed-sinc
  low-pass filter.
* The start is a measure boundary (seeded choice among the measures in the
  first 40 s), advanced past any silent samples, so the excerpt begins on
  sound.  The 30 s window must contain music throughout (no quiet stretch
  longer than 0.6 s at < -40 dB re the loudest 100 ms frame, which also
  rules out reaching the end of the piece); otherwise the next candidate
  start is tried.
* Levels are **peak-normalised to -1 dBFS**, with a 5 ms fade-in and a
  50 ms fade-out against clicks, then encoded as OGG Vorbis at libvorbis
  quality ``--quality`` (soundfile ``compression_level = 1 - quality``).
  The Ogg stream serial number, normally random, is set from the file name
  so that re-running produces byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050                 # output sample rate
RENDER_SR = 44100          # FluidSynth render rate (decimated by 2)
EXCERPT_S = 30.0
N_OUT = int(SR * EXCERPT_S)
MAX_START_S = 40.0         # start measure is chosen within this time
RENDER_S = 80.0            # seconds of score to render
PEAK_DBFS = -1.0
SEED = 20240601
DEFAULT_SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
DEFAULT_QUALITY = 0.05     # libvorbis quality (0 .. 1; oggenc -q 0.5)

LICENCE_BASE = ("public domain composition; score encoding from the music21 corpus "
                "(music21 corpus terms)")

# --------------------------------------------------------------------------
# General MIDI program names (0-based) used here.
GM_NAMES = {
    0: "acoustic grand piano", 1: "bright acoustic piano", 6: "harpsichord",
    19: "church organ", 20: "reed organ", 40: "violin", 41: "viola",
    42: "cello", 43: "contrabass", 48: "string ensemble 1",
    49: "string ensemble 2", 52: "choir aahs", 53: "voice oohs",
    60: "french horn", 68: "oboe", 70: "bassoon", 71: "clarinet", 73: "flute",
    # the unseen set's programs, none of them used by the embedded set
    8: "celesta", 11: "vibraphone", 12: "marimba", 13: "xylophone", 21: "accordion",
    23: "tango accordion", 24: "nylon guitar", 25: "steel guitar", 46: "orchestral harp",
    56: "trumpet", 57: "trombone", 58: "tuba", 61: "brass section", 64: "soprano sax",
    65: "alto sax", 66: "tenor sax", 67: "baritone sax", 69: "english horn",
    72: "piccolo", 74: "recorder", 75: "pan flute",
}

# Instrument families per set: slots cycle through the families, and within a
# family through its ensembles.
FAMILIES = {"strings": ["strings"], "piano": ["piano"], "organ": ["organ"],
            "mixed": ["winds_strings", "harpsichord", "choir", "wind_ensemble"]}
UNSEEN_FAMILIES = {"plucked": ["guitar", "harp"], "brass": ["brass", "saxophones"],
                   "reeds": ["accordion", "recorders"], "mallets": ["marimba", "vibraphone"]}


def slot_ensemble(i: int, families: dict[str, list[str]] = FAMILIES) -> str:
    fams = list(families.values())
    ensembles = fams[i % len(fams)]
    return ensembles[(i // len(fams)) % len(ensembles)]


def _spread(n: int, top: list[int], middle: list[int], bottom: list[int]) -> list[int]:
    """Programs for n parts, ordered from the top part down."""
    if n == 1:
        return [top[0]]
    mids = [middle[k % len(middle)] for k in range(n - 2)]
    return [top[0]] + mids + [bottom[0]]


def assign_programs(ensemble: str, n: int, rng: random.Random) -> tuple[str, list[int]]:
    """Return (filename instrument token, GM program per part)."""
    if ensemble == "strings":
        if rng.random() < 0.6:
            if n >= 5:
                return "string_quartet", _spread(n, [40], [40, 41, 41, 42], [43])
            return "string_quartet", _spread(n, [40], [40, 41], [42])
        p = rng.choice([48, 49])
        return "string_ensemble", [p] * n
    if ensemble == "piano":
        return "piano", [rng.choice([0, 0, 1])] * n
    if ensemble == "organ":
        return "organ", [rng.choice([19, 19, 20])] * n
    if ensemble == "harpsichord":
        return "harpsichord", [6] * n
    if ensemble == "choir":
        return "choir", [rng.choice([52, 53])] * n
    if ensemble == "winds_strings":
        top = rng.choice([73, 68])
        mid = rng.choice([[71, 41], [41, 71], [40, 71]])
        bot = rng.choice([42, 70])
        return "winds_strings", _spread(n, [top], mid, [bot])
    if ensemble == "wind_ensemble":
        mid = rng.choice([[68, 71, 60], [71, 68, 60], [68, 60, 71]])
        return "wind_ensemble", _spread(n, [73], mid, [70])
    if ensemble == "guitar":
        return "guitar", [rng.choice([24, 24, 25])] * n
    if ensemble == "harp":
        return "harp", [46] * n
    if ensemble == "brass":
        mid = rng.choice([[56, 57], [57, 56], [61, 57]])
        return "brass", _spread(n, [56], mid, [rng.choice([57, 58])])
    if ensemble == "saxophones":
        return "saxophones", _spread(n, [64], [65, 66], [67])
    if ensemble == "accordion":
        return "accordion", [rng.choice([21, 23])] * n
    if ensemble == "recorders":
        return "recorders", _spread(n, [rng.choice([74, 72])], [74, 75], [69])
    if ensemble == "marimba":
        return "marimba", _spread(n, [rng.choice([12, 13])], [12], [12])
    if ensemble == "vibraphone":
        return "vibraphone", _spread(n, [rng.choice([11, 8])], [11], [11])
    raise ValueError(ensemble)


# --------------------------------------------------------------------------
# Candidate pieces and their names.

COMPOSERS = {
    "bach": ("Johann Sebastian Bach", "bach"),
    "beethoven": ("Ludwig van Beethoven", "beethoven"),
    "haydn": ("Joseph Haydn", "haydn"),
    "mozart": ("Wolfgang Amadeus Mozart", "mozart"),
    "schumann_robert": ("Robert Schumann", "schumann"),
    "schumann_clara": ("Clara Schumann", "cschumann"),
    "chopin": ("Frederic Chopin", "chopin"),
    "cpebach": ("Carl Philipp Emanuel Bach", "cpebach"),
    "corelli": ("Arcangelo Corelli", "corelli"),
}

QUARTET_DIRS = ("beethoven", "haydn", "mozart", "schumann_robert")
PIANO_PIECES = [
    "chopin/mazurka06-2.krn",
    "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl",
    "schumann_clara/polonaise_op1n3.mxl",
    "schumann_clara/polonaise_op1n4.mxl",
]
BAROQUE_PIECES = [
    "bach/bwv846.mxl",
    "cpebach/h186.mxl",
    "corelli/opus3no1/1grave.xml",
]


def corpus_paths() -> list[str]:
    """Every score in the music21 corpus, as sorted paths relative to the corpus."""
    from music21 import corpus

    return sorted(str(p).replace(os.sep, "/").split("/corpus/", 1)[1]
                  for p in corpus.getCorePaths())


def corpus_pieces() -> dict[str, list[str]]:
    """Relative corpus paths of the usable pieces, grouped by genre."""
    rel = corpus_paths()
    relset = set(rel)
    quartets = [p for p in rel if p.split("/")[0] in QUARTET_DIRS
                and p.endswith(".mxl") and ("opus" in p or re.search(r"/k\d+/", p))
                and "k545" not in p and "opus48" not in p]
    seen = set()
    chorales = []
    for p in rel:
        m = re.fullmatch(r"bach/bwv(\d+(?:\.\d+)?)(-[a-z0-9]+)?\.mxl", p)
        if not m or p == "bach/bwv846.mxl":
            continue
        if m.group(1) in seen:      # keep one version of each chorale
            continue
        seen.add(m.group(1))
        chorales.append(p)
    missing = [p for p in PIANO_PIECES + BAROQUE_PIECES if p not in relset]
    if missing:
        raise SystemExit(f"music21 corpus lacks {missing}")
    return {"quartet": quartets, "chorale": chorales,
            "piano": list(PIANO_PIECES), "baroque": list(BAROQUE_PIECES)}


# The unseen set: composers and instruments the embedded set does not have.
UNSEEN_COMPOSERS = {
    "palestrina": "Giovanni Pierluigi da Palestrina", "monteverdi": "Claudio Monteverdi",
    "josquin": "Josquin des Prez", "ciconia": "Johannes Ciconia", "luca": "D. Luca",
    "lusitano": "Vicente Lusitano", "handel": "George Frideric Handel",
    "schubert": "Franz Schubert", "verdi": "Giuseppe Verdi", "weber": "Carl Maria von Weber",
    "joplin": "Scott Joplin", "liliuokalani": "Liliuokalani",
}
SONGS = [
    "handel/rinaldo/Lascia_chio_pianga.mxl", "schubert/Lindenbaum.xml",
    "verdi/laDonnaEMobile.mxl", "weber/concertino_clarinet.mxl",
    "joplin/maple_leaf_rag.mxl", "liliuokalani/aloha_oe.mxl",
]
EARLY_DIRS = ("josquin", "trecento", "ciconia", "luca", "lusitano")


def unseen_pieces() -> dict[str, list[str]]:
    """The unseen set's pieces by genre: Palestrina masses, Monteverdi madrigals, 14th- and
    15th-century polyphony (Trecento, Josquin), and songs and dances from Handel to Joplin."""
    rel = corpus_paths()
    return {"mass": [p for p in rel if p.startswith("palestrina/")],
            "madrigal": [p for p in rel if p.startswith("monteverdi/") and p.endswith(".mxl")],
            "early": [p for p in rel if p.split("/")[0] in EARLY_DIRS],
            "song": [p for p in SONGS if p in set(rel)]}


# Genre preference per ensemble.
POOLS = {
    "strings": ["quartet", "chorale"],
    "piano": ["piano", "quartet", "chorale"],
    "organ": ["chorale"],
    "winds_strings": ["quartet", "chorale"],
    "harpsichord": ["baroque", "chorale"],
    "choir": ["chorale"],
    "wind_ensemble": ["chorale", "quartet"],
    "guitar": ["song", "madrigal", "mass"],
    "harp": ["early", "madrigal"],
    "brass": ["mass", "madrigal"],
    "saxophones": ["madrigal", "mass"],
    "accordion": ["early", "song", "madrigal"],
    "recorders": ["early", "mass"],
    "marimba": ["madrigal", "mass"],
    "vibraphone": ["mass", "early"],
}


def candidate_order(ensemble: str, genres: dict[str, list[str]], seed: int) -> list[str]:
    out = []
    for g in POOLS[ensemble]:
        items = list(genres[g])
        random.Random(f"{seed}:{ensemble}:{g}").shuffle(items)
        out += items
    return out


def describe(path: str) -> tuple[str, str, str, str]:
    """(composer, work title, composer token, work token) for a corpus path."""
    top = path.split("/")[0]
    if top not in COMPOSERS:
        return describe_from_metadata(path)
    composer, ctok = COMPOSERS[top]
    stem = re.sub(r"\.(mxl|xml|krn)$", "", path)
    mv = re.search(r"movement(\d+)", stem)
    mvn = mv.group(1) if mv else None
    if top == "bach" and stem != "bach/bwv846":
        num = stem.split("bwv", 1)[1]
        return composer, f"Chorale BWV {num}", ctok, "bwv" + num
    if stem == "bach/bwv846":
        return composer, "Prelude in C major, BWV 846 (Well-Tempered Clavier I)", ctok, "bwv846"
    if top == "cpebach":
        return composer, "Keyboard Sonata in A major, H. 186 (Wq 55/4), 2nd movement", ctok, "h186"
    if top == "corelli":
        return composer, "Trio Sonata Op. 3 No. 1, Grave", ctok, "op3no1_grave"
    if top == "chopin":
        return composer, "Mazurka in C-sharp minor, Op. 6 No. 2", ctok, "mazurka_op6no2"
    if top == "schumann_clara":
        n = stem[-1]
        return composer, f"Polonaise Op. 1 No. {n}", ctok, f"polonaise_op1no{n}"
    if "k545" in stem:
        return composer, "Piano Sonata in C major, K. 545, 1st movement (exposition)", ctok, "k545_m1"
    m = re.search(r"/(opus\d+(?:no\d+)?|k\d+)", stem)
    work = m.group(1)
    if work.startswith("opus"):
        nice = "Op. " + work[4:].replace("no", " No. ")
        wtok = "op" + work[4:]
    else:
        nice = "K. " + work[1:]
        wtok = work
    kind = "Grosse Fuge" if work == "opus133" else "String Quartet"
    title = f"{kind} {nice}"
    if mvn:
        title += f", movement {mvn}"
        wtok += f"_m{mvn}"
    else:
        title += " (opening)"
    return composer, title, ctok, wtok


def parse(path: str):
    """A corpus score; a multi-voice ABC file (an Opus of one tune per voice) merged into one."""
    from music21 import corpus, stream

    s = corpus.parse(path)
    return s.mergeScores() if isinstance(s, stream.Opus) else s


def describe_from_metadata(path: str) -> tuple[str, str, str, str]:
    """describe() for the unseen set: names from the score's own metadata.

    Trecento pieces name their composer (or "Anonymous" and a manuscript) in the score.
    """
    top = path.split("/")[0]
    md = parse(path).metadata

    def first_line(t) -> str:
        return " ".join(str(t or "").split("\n")[0].split())

    composer = UNSEEN_COMPOSERS.get(top) or first_line(md.composer) or "Anonymous"
    stem = Path(path).stem
    title = first_line(md.title) or first_line(md.movementName)
    if not title or title.endswith((".mxl", ".xml")):
        title = stem.replace("_", " ")
    if md.parentTitle:
        title = f"{first_line(md.parentTitle)}: {title}"
    if top == "monteverdi":
        book, num = stem.split(".")[1:]
        title = f"Madrigal, Book {book} No. {num}"
    return composer, title, top, re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")


def encoding_note(path: str) -> str:
    """Copyright/rights text embedded in the encoding, if any."""
    from music21 import corpus

    full = Path(str(corpus.getWork(path)))
    raw = full.read_bytes()
    if full.suffix == ".mxl":
        with zipfile.ZipFile(full) as z:
            raw = b"".join(z.read(n) for n in z.namelist() if not n.startswith("META-INF"))
    text = raw.decode("utf-8", "replace")

    def clean(t: str) -> str:
        return " ".join(t.split())

    m = re.search(r"<rights[^>]*>([^<]*)</rights>", text)
    if m and clean(m.group(1)) not in ("", "\u00a9", "Copyright \u00a9"):
        return "encoding rights: " + clean(m.group(1))
    m = re.search(r"<credit-words[^>]*>([^<]*\u00a9[^<]*)</credit-words>", text)
    if m:
        return "encoding credit: " + clean(m.group(1))
    m = re.search(r"!!!YEC:\s*(.+)", text)
    if m:
        terms = " ".join(clean(t) for t in re.findall(r"!!!YEM:\s*(.+)", text))
        return "encoding: " + clean(m.group(1)) + (f" ({terms})" if terms else "")
    return ""


# Tempo words -> beats per minute on the time signature's beat.
TEMPO_WORDS = [
    (("grave", "largo"), 46, True), (("adagio", "lento", "sostenuto"), 56, True),
    (("andantino",), 84, False), (("andante",), 72, False),
    (("allegretto", "menuetto", "minuetto", "moderato", "intermezzo"), 100, False),
    (("presto", "vivace", "vivacissimo"), 138, False), (("allegro",), 120, False),
]


def choose_qpm(s, is_chorale: bool) -> float:
    """One constant tempo (quarter notes per minute) for a score.

    Chorales: 80.  Otherwise the first tempo word at the start of the score
    (text in the first two measures or the movement name), else the first
    metronome mark with a number, else 96 beats/min (60 for compound time).
    """
    from music21 import expressions, meter, tempo

    if is_chorale:
        return 80.0
    ts = next(iter(s.recurse().getElementsByClass(meter.TimeSignature)), None)
    beat = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
    words = []
    for m in list(s.parts[0].getElementsByClass("Measure"))[:2]:
        for el in m.recurse().getElementsByClass((expressions.TextExpression, tempo.TempoText)):
            words.append(str(getattr(el, "content", None) or getattr(el, "text", "")))
    words.append(str(s.metadata.movementName or "") if s.metadata else "")
    text = " ".join(words).lower()
    for keys, bpm, slow in TEMPO_WORDS:
        if any(re.search(rf"\b{k}\b", text) for k in keys):
            b = beat
            if slow and beat > 1.0 and ts is not None:   # slow: count the small note
                b = 4.0 / ts.denominator
            return float(bpm * b)
    for mm in s.recurse().getElementsByClass(tempo.MetronomeMark):
        if mm.number and mm.referent is not None:
            q = mm.number * mm.referent.quarterLength
            if 40 <= q <= 240:
                return float(min(q, 176.0))
    return float(96 * beat if beat <= 1.0 else 60 * beat if beat == 1.5 else 72 * beat)


# --------------------------------------------------------------------------
# Score -> MIDI

def prepare_score(path: str, programs_for):
    """Parse, set one tempo, truncate, set programs.

    Returns (score, qpm, measure start times in seconds, GM programs).
    """
    from music21 import bar, instrument, repeat, spanner, tempo

    s = parse(path)
    is_chorale = path.startswith("bach/bwv") and "bwv846" not in path
    # Expand repeats on the whole score (so truncating cannot leave a dangling
    # repeat, which the MIDI writer rejects); drop them if malformed.
    try:
        s = s.expandRepeats()
    except Exception:
        for b in list(s.recurse().getElementsByClass(bar.Repeat)):
            site = b.activeSite
            if site is not None and hasattr(site, "leftBarline"):
                if site.leftBarline is b:
                    site.leftBarline = None
                elif site.rightBarline is b:
                    site.rightBarline = None
        for x in list(s.recurse().getElementsByClass(repeat.RepeatExpression)):
            x.activeSite.remove(x)
        for x in list(s.recurse().getElementsByClass(spanner.RepeatBracket)):
            s.remove(x, recurse=True)
    qpm = choose_qpm(s, is_chorale)
    for el in list(s.recurse().getElementsByClass((tempo.MetronomeMark, tempo.TempoText))):
        el.activeSite.remove(el)

    # truncate to what is needed (by offset: expanded repeats reuse numbers)
    need_ql = RENDER_S * qpm / 60.0
    cut = next((m.offset for m in s.parts[0].getElementsByClass("Measure")
                if m.offset > need_ql), None)
    if cut is not None:
        for part in s.parts:
            part.remove([el for el in part if el.offset >= cut])
    parts = list(s.parts)
    progs = programs_for(len(parts))
    for part, prog in zip(parts, progs):
        for inst in list(part.recurse().getElementsByClass(instrument.Instrument)):
            inst.activeSite.remove(inst)
        ins = instrument.Instrument()
        ins.midiProgram = prog
        part.insert(0, ins)
        part.insert(0, tempo.MetronomeMark(number=qpm))
    starts = sorted({float(m.offset) * 60.0 / qpm
                     for m in s.parts[0].getElementsByClass("Measure")})
    return s, qpm, starts, progs


# --------------------------------------------------------------------------
# Audio

def lowpass_kernel(taps: int = 255, cutoff: float = 0.45) -> np.ndarray:
    """Kaiser-windowed sinc, cutoff as a fraction of the *output* rate."""
    n = np.arange(taps) - (taps - 1) / 2
    fc = cutoff / 2.0          # relative to the input rate (decimation by 2)
    h = 2 * fc * np.sinc(2 * fc * n) * np.kaiser(taps, 8.6)
    return h / h.sum()


_H = lowpass_kernel()


def fix_midi(path: Path) -> None:
    """Give every track its own channel and end it with 'all notes off'.

    music21 puts parts that share a GM program on one channel, so unisons
    between parts collide; and FluidSynth's fast render runs until the last
    voice has died, so one stuck note on a sustaining program never ends.
    """
    from music21 import midi

    mf = midi.MidiFile()
    mf.open(str(path))
    mf.read()
    mf.close()
    free = [c for c in range(1, 17) if c != 10]       # 1-based; 10 is drums
    k = 0
    for t in mf.tracks:
        events = [e for e in t.events if not isinstance(e, midi.DeltaTime)]
        if not any(e.type == midi.ChannelVoiceMessages.NOTE_ON for e in events):
            continue
        ch = free[k % len(free)]
        k += 1
        for e in events:
            if isinstance(e.type, midi.ChannelVoiceMessages):
                e.channel = ch
        if t.events[-1].type != midi.MetaEvents.END_OF_TRACK:
            continue
        ev = midi.MidiEvent(t, type=midi.ChannelVoiceMessages.CONTROLLER_CHANGE, channel=ch)
        ev.parameter1, ev.parameter2 = 123, 0
        t.events = t.events[:-1] + [ev, midi.DeltaTime(t, time=0), t.events[-1]]
    mf.open(str(path), "wb")
    mf.write()
    mf.close()


def render(midi: Path, wav: Path, sf2: str) -> np.ndarray:
    fix_midi(midi)
    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(RENDER_SR),
           "-O", "float", "-T", "wav", "-F", str(wav), sf2, str(midi)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300)
    if wav.stat().st_size > 4 * 2 * RENDER_SR * (RENDER_S + 120):
        raise RuntimeError("render much longer than the score")
    x, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    assert sr == RENDER_SR, sr
    x = x.mean(axis=1)
    nfft = 1 << int(np.ceil(np.log2(len(x) + len(_H))))
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(_H, nfft), nfft)
    d = (len(_H) - 1) // 2
    y = y[d:d + len(x)][::2]
    return y


def frame_rms(y: np.ndarray, hop: int) -> np.ndarray:
    n = len(y) // hop
    return np.sqrt(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)


def pick_excerpt(y: np.ndarray, starts: list[float], rng: random.Random):
    """Choose a start (seconds) and return (start_seconds, excerpt) or None."""
    peak = np.max(np.abs(y))
    if peak <= 0:
        return None
    thr = peak * 10 ** (-50 / 20)
    loud = np.nonzero(np.abs(y) > thr)[0]
    if len(loud) == 0:
        return None
    music_end = loud[-1]
    cands = [t for t in starts if t <= MAX_START_S and int(t * SR) + N_OUT < music_end]
    rng.shuffle(cands)
    hop = SR // 10          # 100 ms frames
    for t in cands:
        i0 = int(round(t * SR))
        after = np.nonzero(np.abs(y[i0:]) > thr)[0]
        if len(after) == 0:
            continue
        i0 += int(after[0])            # skip silent samples at the start
        seg = y[i0:i0 + N_OUT]
        if len(seg) < N_OUT:
            continue
        r = frame_rms(seg, hop)
        quiet = r < r.max() * 10 ** (-40 / 20)
        run = longest = 0
        for q in quiet:
            run = run + 1 if q else 0
            longest = max(longest, run)
        if longest * hop / SR > 0.6:
            continue
        return i0 / SR, seg.copy()
    return None


def finish(seg: np.ndarray) -> np.ndarray:
    seg = seg * (10 ** (PEAK_DBFS / 20) / np.max(np.abs(seg)))
    fi, fo = int(0.005 * SR), int(0.05 * SR)
    seg[:fi] *= np.linspace(0, 1, fi)
    seg[-fo:] *= np.linspace(1, 0, fo)
    return seg.astype(np.float32)


# --- deterministic Ogg serial number --------------------------------------

def _ogg_crc_table():
    t = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        t.append(r & 0xFFFFFFFF)
    return t


_CRC = _ogg_crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) ^ b) & 0xFF]
    return crc


def fix_ogg_serial(path: Path, serial: int) -> None:
    """Rewrite every Ogg page with a fixed stream serial (and its CRC)."""
    data = bytearray(path.read_bytes())
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError(f"{path}: bad Ogg page at {pos}")
        nseg = data[pos + 26]
        body = sum(data[pos + 27:pos + 27 + nseg])
        end = pos + 27 + nseg + body
        data[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22:pos + 26] = b"\0\0\0\0"
        data[pos + 22:pos + 26] = _ogg_crc(bytes(data[pos:end])).to_bytes(4, "little")
        pos = end
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------

# set -> (instrument families, pieces by genre, default output folder, default CSV for an output folder)
SETS = {
    "embedded": (FAMILIES, corpus_pieces, "plugins/classical/audio",
                 lambda out: out.parent / "sources.csv"),
    "unseen": (UNSEEN_FAMILIES, unseen_pieces, "../data/unseen", lambda out: out / "sources.csv"),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=sorted(SETS), default="embedded",
                    help="embedded: the set in plugins/classical; unseen: a held-out set of other "
                         "composers and instruments (default %(default)s)")
    ap.add_argument("--out", default=None,
                    help="output folder (default: plugins/classical/audio, or ../data/unseen)")
    ap.add_argument("--csv", default=None,
                    help="sources CSV (default: <out>/../sources.csv, or <out>/sources.csv)")
    ap.add_argument("--count", type=int, default=64, help="number of excerpts")
    ap.add_argument("--quality", type=float, default=DEFAULT_QUALITY,
                    help="libvorbis quality 0..1 (default %(default)s)")
    ap.add_argument("--sf2", default=DEFAULT_SF2, help="General MIDI soundfont")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    if not Path(args.sf2).is_file():
        raise SystemExit(f"soundfont not found: {args.sf2} (apt-get install fluid-soundfont-gm)")
    families, pieces, default_out, default_csv = SETS[args.set]
    out = Path(args.out or default_out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = Path(args.csv) if args.csv else default_csv(out)
    for old in out.glob("*.ogg"):
        old.unlink()

    genres = pieces()
    orders = {e: candidate_order(e, genres, args.seed) for es in families.values() for e in es}
    used: set[str] = set()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.count):
            ens = slot_ensemble(i, families)
            done = False
            for path in orders[ens]:
                if path in used:
                    continue
                used.add(path)     # tried once, never reused (even if skipped)
                rng = random.Random(f"{args.seed}:{path}:{ens}")
                token_box = {}

                def programs_for(n, rng=rng, ens=ens, box=token_box):
                    tok, progs = assign_programs(ens, n, rng)
                    box["tok"] = tok
                    return progs

                try:
                    score, qpm, starts, progs = prepare_score(path, programs_for)
                    mid = tmp / "x.mid"
                    score.write("midi", fp=str(mid))
                    y = render(mid, tmp / "x.wav", args.sf2)
                except Exception as exc:     # unparsable/unrenderable: skip
                    print(f"   skip {path}: {type(exc).__name__}: {exc}", flush=True)
                    continue
                got = pick_excerpt(y, starts, rng)
                if got is None:
                    print(f"   skip {path}: no 30 s window of continuous music", flush=True)
                    continue
                start, seg = got
                seg = finish(seg)
                composer, work, ctok, wtok = describe(path)
                name = f"{i:02d}_{ctok}_{wtok}_{token_box['tok']}"
                name = re.sub(r"[^a-z0-9_]", "_", name.lower()) + ".ogg"
                dest = out / name
                sf.write(str(dest), seg, SR, format="OGG", subtype="VORBIS",
                         compression_level=1.0 - args.quality)
                fix_ogg_serial(dest, zlib.crc32(name.encode()) & 0x7FFFFFFF)
                inst = "; ".join(f"{GM_NAMES.get(p, 'program')} ({p})" for p in progs)
                note = encoding_note(path)
                lic = LICENCE_BASE + (f"; {note}" if note else "")
                rows.append({"file": name, "composer": composer, "work": work,
                             "corpus_path": path, "instruments": inst,
                             "start_seconds": f"{start:.3f}", "licence": lic})
                print(f"[{i + 1:2d}/{args.count}] {name}  ({path}, {qpm:.0f} qpm, "
                      f"start {start:.2f} s, {dest.stat().st_size // 1024} KiB)", flush=True)
                done = True
                break
            if not done:
                raise SystemExit(f"ran out of candidate pieces for slot {i} ({ens})")

    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["file", "composer", "work", "corpus_path",
                                          "instruments", "start_seconds", "licence"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    total = sum(p.stat().st_size for p in out.glob("*.ogg"))
    print(f"wrote {len(rows)} files, {total / 1e6:.2f} MB, to {out}; sources in {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
