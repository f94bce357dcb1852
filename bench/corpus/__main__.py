"""Lists the corpus: `python -m bench.corpus [--skipped]` (builds the cache where it is missing)."""

from __future__ import annotations

import argparse
from collections import Counter

from bench.corpus import analysis_pieces, skipped_sources
from bench.corpus.metrics import key_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skipped", action="store_true", help="also list the rejected scores and why")
    arguments = parser.parse_args()
    pieces = analysis_pieces()
    for piece in sorted(pieces, key=lambda p: (p.split, p.style, p.name)):
        key = key_label(piece.key)
        drums = "drums" if piece.has_drums else "-"
        print(f"{piece.split:4}  {piece.style:22} {piece.name:48} {piece.beats_per_bar}/bar {key:9} {drums}")
    for split in ("tune", "test"):
        chosen = [p for p in pieces if p.split == split]
        styles = Counter(p.style for p in chosen)
        print(
            f"{split}: {len(chosen)} pieces, {sum(p.has_drums for p in chosen)} with drums, "
            f"{sum(p.key.minor for p in chosen)} minor; " + ", ".join(f"{s} {n}" for s, n in sorted(styles.items()))
        )
    if arguments.skipped:
        for source_id, reason in sorted(skipped_sources().items()):
            print(f"skipped {source_id}: {reason}")


if __name__ == "__main__":
    main()
