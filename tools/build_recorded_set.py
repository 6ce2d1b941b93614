#!/usr/bin/env python3
"""Build the third data set of docs/dataset.md: recorded and produced music from Debian packages.

Both other sets are rendered by the project's own renderer (FluidSynth: clean, dry, synthetic
timbres). This one is music that people recorded or produced -- sampled orchestras with reverb,
band recordings with guitars and drums, electronic mixes -- taken from the music of game data
packages of the OS distribution, so that a recipe can be checked on sound it was not made for.
It is not shipped (the licences differ from track to track): rebuild it where you need it.

Install the packages first (about 2 GB; the tool installs nothing itself)::

    apt-get install --no-install-recommends ufoai-music widelands-data naev-data megaglest-data \\
        warzone2100-music fretsonfire-songs-muldjord fretsonfire-songs-sectoid marsshooter-data \\
        hedgewars-data colobot-common-sounds lincity-ng-data
    python tools/build_recorded_set.py --out /work/data/recorded [--count 64]

It writes ``<nn>_<source>_<track>.ogg`` and ``sources.csv`` (file, package, version, original path,
start, licence and the file that states it, artist, copyright holders) into a temporary folder
beside ``--out`` and renames it into place when complete. About 75 s on 2 cores.

Which tracks
------------
``PACKAGES`` names, per package, the music files it may use, each group with the licence and
holders that the package's copyright file (or the licence file it points to) gives for them, and
the artist where the package's own credits say who made the track (otherwise the artist is read
from the file's tag). Files whose licence the copyright file does not itemise are left out, and
so are sound effects, ambiences, jingles and remastered duplicates. UFO:AI's GPL-2 group is left
out because its holders include "Nexuiz GPLed Data": the music of nexuiz-music (like that of
wesnoth-1.16-music, singularity-music and hyperrogue-music) is held back for an independent check
and must not appear here. Slots go to the packages in proportion to ``take`` (interleaved, so
``--count`` below 64 keeps the mix), and each package's tracks are tried in a seeded order.

How an excerpt is made
----------------------
One excerpt per track (a Frets on Fire song is one track: its stems are summed). The track is
mixed to mono and resampled to 22050 Hz with soxr. Levels are 100 ms RMS frames in dB re the
track's loudest frame. A track is skipped when it is shorter than 35 s, when fewer than half of
its frames are above -40 dB (mostly silent), or when it has no 30 s window of music. The window
lies between 5 s after the first frame above -30 dB (past the leading silence and a fade-in) and
10 s before the last such frame (before the final fade), so a track needs 45 s of sound; its start
is drawn with ``random.Random("seed:package:track")``, up to 8 draws, and a window is taken when it
has no quiet stretch longer than 0.6 s below -40 dB re its own loudest frame (the embedded set's
rule). The excerpt is then peak-normalised to -1 dBFS with
a 5 ms fade-in and a 50 ms fade-out and written as OGG Vorbis at the embedded set's quality, with
an Ogg serial number derived from the file name, so a re-run gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from render_classical import DEFAULT_QUALITY, fix_ogg_serial

SR = 22050
EXCERPT_S = 30.0
MIN_TRACK_S = 35.0
HEAD_GUARD_S = 5.0          # the window starts this long after the first loud frame (a fade-in)
TAIL_GUARD_S = 10.0         # and ends this long before the last one (the final fade)
SOUND_DB = -30.0            # a frame this loud (re the track's loudest) is sound, not silence
QUIET_DB = -40.0
MAX_QUIET_S = 0.6
MIN_ACTIVE = 0.5            # fewer frames than this above QUIET_DB: mostly silent
DRAWS = 8
PEAK_DBFS = -1.0
FADE_IN_S, FADE_OUT_S = 0.005, 0.05
SEED = 20250121
HOP_S = 0.1
EXCLUDED = ("wesnoth-1.16-music", "nexuiz-music", "singularity-music", "hyperrogue-music")


@dataclass(frozen=True)
class Group:
    """Files of one package with one licence statement."""

    files: tuple[str, ...]      # fnmatch patterns on the path inside the package's folder
    licence: str
    holders: str                # the copyright holders the statement names
    artist: str = ""            # who made these tracks, where the package says so
    credits: str = "copyright"  # where: "copyright", "file name", or a file inside the package's folder
    licence_file: str = ""      # where the licence is stated, inside the folder (default: the copyright file)


@dataclass(frozen=True)
class Package:
    name: str
    short: str                  # in the output file names
    folder: str                 # a folder, or a zip archive, under /usr/share
    take: int                   # slots of the full set of 64
    groups: tuple[Group, ...]
    stems: bool = False         # a track is a folder whose *.ogg files are played together

    def copyright(self) -> str:
        return f"/usr/share/doc/{self.name}/copyright"

    def inside(self, name: str) -> str:
        return f"/usr/share/{self.folder}/{name}"

    def licence_file(self, group: Group) -> str:
        return self.inside(group.licence_file) if group.licence_file else self.copyright()

    def artist_source(self, group: Group) -> str:
        return {"copyright": self.copyright(), "file name": "the file name"}.get(group.credits) \
            or self.inside(group.credits)


UFOAI_CC_BY = "Manuel \"Vanethian\" Marino; Gren; David Reeves (Destructavator); azrael1322; Karl Macklin"
UFOAI_CC_BY_SA = "\"Marine\" Baklund; Gren; Christian Hoffmann; Slippycurb"
NAEV_WHALLON = ("ambient1", "ambient2", "ambient2_5", "ambient3", "automat", "battlesomething1",
                "battlesomething2", "collective1", "collective2", "empire1", "empire2", "flf_battle1",
                "intrigue", "intro", "nebu_battle1", "nebu_battle2", "sirius1", "upbeat", "zalek1", "zalek2")
NAEV_ASKYEL = ("ambient4", "combat1", "combat2", "combat3", "dvaered1", "dvaered2", "eureka", "sirius2",
               "terminal")
NAEV_VEGA = ("agriculture", "cosmostation", "galacticbattle", "machina", "mission", "ocean", "peace1",
             "peace2", "peace4", "peace6", "snow")
MEGAGLEST = "The Glest Team; The MegaGlest Team"
HEDGEWARS = "Andrey Korotaev; Igor Ulyanov; Hedgewars Project"
HEDGEWARS_CREDITS = (("HSR", ("City.ogg", "Rock.ogg")), ("HG", ("Compost.ogg",)),
                     ("Jonatan Nilsson", ("EarthRise.ogg", "pirate.ogg", "oriental.ogg", "snow.ogg")),
                     ("Valentin Kraevskiy", ("Fruit.ogg", "Jungle.ogg")), ("John Dum", ("Nature.ogg",)),
                     ("yd", ("olympics_sd.ogg",)))
WZ_LUPUS = "CC-BY-SA-3.0+ or GPL-2+"
LINCITY = "the LinCity and LinCityNG authors (I J Peters, Greg Sharp, ... Xabier Cancela)"


def _names(stems: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{s}.ogg" for s in stems)


PACKAGES: tuple[Package, ...] = (
    Package("ufoai-music", "ufoai", "games/ufoai/base/0music.pk3", 12, (
        Group(("music/David0?.ogg", "music/azrael1.ogg", "music/karlmacklin_geoscape.ogg"),
              "CC-BY-3.0", UFOAI_CC_BY),
        Group(("music/van_*.ogg",), "CC-BY-3.0", UFOAI_CC_BY),
        Group(("music/Crystan-*.ogg",), "CC-BY-SA-3.0", UFOAI_CC_BY_SA),
        Group(("music/Marine*.ogg", "music/TheThings-Slippycurb.ogg", "music/returnjourney.ogg"),
              "CC-BY-SA-3.0", UFOAI_CC_BY_SA),
        Group(("music/alBasrahM.ogg", "music/greecei.ogg", "music/turinItalyM.ogg"), "public-domain",
              "Independent.nu; Golgotha"),
    )),
    Package("widelands-data", "widelands", "games/widelands/data/music", 10, (
        Group(("ingame_24.ogg", "ingame_25.ogg", "ingame_26.ogg"), "CC-BY-SA-3.0", "Stuart Marshall",
              "Stuart Marshall", "copyright"),
        Group(("ingame_??.ogg", "menu.ogg"), "GPL-2+", "the Widelands Development Team"),
    )),
    Package("naev-data", "naev", "naev/dat/snd/music", 9, (
        Group(_names(NAEV_WHALLON), "GPL-3 or CC-BY-3.0", "Nikola Whallon", "Nikola Whallon", "copyright"),
        Group(_names(NAEV_ASKYEL), "CC-BY-SA-3.0", "Askyel", "Askyel", "copyright"),
        Group(("ambiphonic.ogg", "void_sensor.ogg"), "CC-BY-3.0", "Zeropage", "Zeropage", "copyright"),
        Group(_names(NAEV_VEGA), "GPL-2+", "Vega Strike"),
    )),
    Package("megaglest-data", "megaglest", "games/megaglest", 7, (
        Group(("techs/megapack/factions/romans/music/*.ogg",), "CC-BY-SA-3.0", MEGAGLEST,
              "Mattias Westlund (album Chronicles III)", "copyright"),
        Group(("techs/megapack/factions/indian/music/*.ogg", "techs/megapack/factions/persian/music/*.ogg"),
              "CC-BY-SA-3.0", MEGAGLEST, "Aminos", "copyright"),
        Group(("techs/megapack/factions/egypt/music/*.ogg",), "CC-BY-SA-3.0", MEGAGLEST, "Margaras", "copyright"),
        Group(("techs/megapack/factions/norsemen/music/*.ogg",), "CC-BY-SA-3.0", MEGAGLEST, "manolo camp",
              "copyright"),
        Group(("techs/megapack/factions/*/music/*.ogg", "data/core/menu/music/*.ogg"), "CC-BY-SA-3.0", MEGAGLEST),
    )),
    Package("warzone2100-music", "warzone2100", "games/warzone2100/music", 6, (
        Group(("albums/original_soundtrack/*.opus", "menu.opus"), "GPL-2+", "Eidos Interactive",
              "Martin Severn", "albums/original_soundtrack/album.json"),
        Group(("albums/legacy_soundtrack/*.opus",), WZ_LUPUS, "LupusMechanicus", "LupusMechanicus",
              "albums/legacy_soundtrack/album.json", "albums/legacy_soundtrack/license.txt"),
        Group(("albums/aftermath_soundtrack/track1?.opus", "albums/aftermath_soundtrack/track2?.opus"), WZ_LUPUS,
              "LupusMechanicus", "LupusMechanicus", "albums/aftermath_soundtrack/album.json",
              "albums/aftermath_soundtrack/license.txt"),
    )),
    Package("fretsonfire-songs-muldjord", "muldjord", "games/fretsonfire/data/songs/muldjord", 4, (
        Group(("*",), "CC-BY-SA-3.0", "El Senator", "Muldjord (El Senator)", "copyright"),
    ), stems=True),
    Package("fretsonfire-songs-sectoid", "sectoid", "games/fretsonfire/data/songs/sectoid", 4, (
        Group(("*",), "Expat", "Carlos Viola Iborra", "Carlos Viola Iborra (Sectoid)", "copyright"),
    ), stems=True),
    Package("marsshooter-data", "mars", "games/marsshooter/audio", 4, (
        Group(("music/*.ogg", "menu.ogg", "tutorial.ogg"), "CC-BY-SA-3.0", "Obsidian Shell", "Obsidian Shell",
              "copyright"),
    )),
    Package("hedgewars-data", "hedgewars", "games/hedgewars/Data/Music", 3, tuple(
        Group(files, "GPL-2", HEDGEWARS, artist, "credits.txt") for artist, files in HEDGEWARS_CREDITS
    )),
    Package("colobot-common-sounds", "colobot", "games/colobot/music", 3, (
        Group(("*.ogg",), "GPL-3+", "Daniel Roux, EPSITEC SA & TerranovaTeam"),
    )),
    Package("lincity-ng-data", "lincity", "games/lincity-ng/music/default", 2, (
        Group(("01 - pronobozo - *.ogg",), "GPL-2+", LINCITY, "pronobozo", "file name"),
        Group(("0? - Robert van Herk - *.ogg",), "GPL-2+", LINCITY, "Robert van Herk", "file name"),
    )),
)


# --- excerpts (pure: tested in tests/test_recorded_set.py) ------------------

def frame_db(y: np.ndarray, hop: int) -> np.ndarray:
    """RMS of each whole ``hop``-sample frame, in dB re the loudest frame."""
    n = len(y) // hop
    rms = np.sqrt(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-12
    return 20 * np.log10(rms / rms.max())


def longest_run(mask: np.ndarray) -> int:
    """The longest run of True in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return int((ends - starts).max()) if len(starts) else 0


def pick_excerpt(y: np.ndarray, sr: int, rng: random.Random) -> tuple[float, np.ndarray] | str:
    """A seeded ``(start seconds, 30 s window)`` of mono ``y``, or why the track has none."""
    n, hop = round(EXCERPT_S * sr), round(HOP_S * sr)
    if len(y) < MIN_TRACK_S * sr or not np.any(y):
        return "shorter than 35 s" if len(y) < MIN_TRACK_S * sr else "silent"
    level = frame_db(y, hop)
    if np.mean(level > QUIET_DB) < MIN_ACTIVE:
        return "mostly silent"
    sound = np.nonzero(level > SOUND_DB)[0]
    lo, hi = sound[0] * hop + int(HEAD_GUARD_S * sr), (sound[-1] + 1) * hop - int(TAIL_GUARD_S * sr) - n
    if hi < lo:
        return "no 30 s of music between the opening and the final fade"
    for _ in range(DRAWS):
        start = rng.randint(lo, hi)
        window = y[start:start + n]
        if longest_run(frame_db(window, hop) < QUIET_DB) * HOP_S <= MAX_QUIET_S:
            return start / sr, window.copy()
    return f"no 30 s window without a gap in {DRAWS} draws"


def finish(window: np.ndarray, sr: int) -> np.ndarray:
    """Peak -1 dBFS, short fades against clicks, float32."""
    out = window * (10 ** (PEAK_DBFS / 20) / np.max(np.abs(window)))
    fade_in, fade_out = int(FADE_IN_S * sr), int(FADE_OUT_S * sr)
    out[:fade_in] *= np.linspace(0, 1, fade_in)
    out[-fade_out:] *= np.linspace(1, 0, fade_out)
    return out.astype(np.float32)


def slot_order(takes: list[int]) -> list[int]:
    """Package index of each slot: smooth weighted round robin, so any prefix keeps the proportions."""
    credit, order = [0] * len(takes), []
    for _ in range(sum(takes)):
        credit = [c + t for c, t in zip(credit, takes)]
        best = max(range(len(takes)), key=lambda i: (credit[i], -i))
        credit[best] -= sum(takes)
        order.append(best)
    return order


# --- reading the packages ---------------------------------------------------

@dataclass(frozen=True)
class Track:
    package: Package
    key: str                    # path inside the package's folder (a folder for stems)
    group: Group

    def original_path(self) -> str:
        base = f"/usr/share/{self.package.folder}"
        return f"{base}:{self.key}" if base.endswith(".pk3") else f"{base}/{self.key}"

    def title(self) -> str:
        return self.key if self.package.stems else Path(self.key).stem

    def sources(self) -> list[object]:
        """What soundfile reads: paths, or the archive member's bytes."""
        base = Path("/usr/share") / self.package.folder
        if base.suffix == ".pk3":
            with zipfile.ZipFile(base) as z:
                return [io.BytesIO(z.read(self.key))]
        if self.package.stems:
            return sorted((base / self.key).glob("*.ogg"))
        return [base / self.key]


def group_of(package: Package, key: str) -> Group | None:
    return next((g for g in package.groups if any(fnmatch(key, p) for p in g.files)), None)


def tracks(package: Package) -> list[Track]:
    """The package's usable tracks in sorted order."""
    base = Path("/usr/share") / package.folder
    if base.suffix == ".pk3":
        with zipfile.ZipFile(base) as z:
            keys = [n for n in z.namelist() if not n.endswith("/")]
    elif package.stems:
        keys = sorted({str(p.parent.relative_to(base)) for p in base.glob("*/*.ogg")})
    else:
        keys = [str(p.relative_to(base)) for p in base.rglob("*") if p.suffix in (".ogg", ".opus")]
    found = ((k, group_of(package, k)) for k in sorted(keys))
    return [Track(package, k, g) for k, g in found if g is not None]


def decode(track: Track) -> tuple[np.ndarray, str]:
    """The track as mono float32 at SR, and the artist tag of its first file."""
    mix, tag = None, ""
    for source in track.sources():
        with sf.SoundFile(source) as f:
            tag = tag or f.copy_metadata().get("artist", "").strip()
            y = soxr.resample(f.read(dtype="float32", always_2d=True).mean(axis=1), f.samplerate, SR,
                              quality="HQ")
        mix = y if mix is None else mix[: len(y)] + y[: len(mix)]
    return mix, tag


def package_versions() -> dict[str, str]:
    """Installed version of every package of PACKAGES; exits naming the apt-get line if any is missing."""
    names = [p.name for p in PACKAGES]
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n", *names],
                         check=False, capture_output=True, text=True).stdout
    versions = {n: v for n, v, status in (line.split("\t") for line in out.splitlines()) if status == "installed"}
    missing = [n for n in names if n not in versions]
    if missing:
        raise SystemExit(f"not installed: {' '.join(missing)}\n"
                         f"run first: apt-get install --no-install-recommends {' '.join(names)}")
    return versions


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


FIELDS = ["file", "package", "version", "original_path", "start_seconds", "licence", "licence_file",
          "artist", "artist_source", "copyright_holders"]


def build(folder: Path, count: int, quality: float, seed: int) -> list[dict[str, str]]:
    """Write ``count`` excerpts and sources.csv into ``folder``; returns the CSV rows."""
    versions = package_versions()
    queues: list[Iterator[Track]] = []
    for p in PACKAGES:
        order = tracks(p)
        random.Random(f"{seed}:{p.name}").shuffle(order)
        queues.append(iter(order))
    rows = []
    for slot, index in enumerate(slot_order([p.take for p in PACKAGES])[:count]):
        package = PACKAGES[index]
        for track in queues[index]:
            mono, tag = decode(track)
            got = pick_excerpt(mono, SR, random.Random(f"{seed}:{package.name}:{track.key}"))
            if isinstance(got, str):
                print(f"   skip {track.original_path()}: {got}", flush=True)
                continue
            start, window = got
            name = f"{slot:02d}_{package.short}_{slug(track.title())}.ogg"
            dest = folder / name
            sf.write(str(dest), finish(window, SR), SR, format="OGG", subtype="VORBIS",
                     compression_level=1.0 - quality)
            fix_ogg_serial(dest, zlib.crc32(name.encode()) & 0x7FFFFFFF)
            g = track.group
            rows.append({
                "file": name, "package": package.name, "version": versions[package.name],
                "original_path": track.original_path(), "start_seconds": f"{start:.3f}", "licence": g.licence,
                "licence_file": package.licence_file(g), "artist": g.artist or tag,
                "artist_source": package.artist_source(g) if g.artist else ("the file's artist tag" if tag else ""),
                "copyright_holders": g.holders})
            print(f"[{slot + 1:2d}/{count}] {name}  (start {start:.1f} s)", flush=True)
            break
        else:
            raise SystemExit(f"{package.name} has no usable track left for slot {slot}")
    with open(folder / "sources.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def replace_folder(out: Path, fill) -> None:
    """Run ``fill`` on a temporary folder beside ``out``, then put it in ``out``'s place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    old = out.parent / f".old-{out.name}-{os.getpid()}"
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder (replaced when the build completes)")
    ap.add_argument("--count", type=int, default=64, help="number of excerpts (at most 64)")
    ap.add_argument("--quality", type=float, default=DEFAULT_QUALITY, help="libvorbis quality 0..1")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    total = sum(p.take for p in PACKAGES)
    if not 1 <= args.count <= total:
        raise SystemExit(f"--count must be 1..{total}")
    replace_folder(args.out, lambda folder: build(folder, args.count, args.quality, args.seed))
    size = sum(p.stat().st_size for p in args.out.glob("*.ogg"))
    print(f"wrote {args.count} files, {size / 1e6:.2f} MB, and sources.csv to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
