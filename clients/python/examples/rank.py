#!/usr/bin/env python3
"""Ranks items for a behaviour history and an optional query, and prints a table.

    python clients/python/examples/rank.py --endpoint tcp://127.0.0.1:5555 \
        --events 1193,661,914 --query "comedy" --top-k 10 --explain 3
"""

from __future__ import annotations

import argparse
import sys

from fuserank_client import Event, EventType, FuseRankClient, FuseRankError


def parse_ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="the server's ZeroMQ endpoint")
    parser.add_argument("--events", type=parse_ids, default=[], help="item ids the user interacted with, oldest first")
    parser.add_argument("--event-type", default="RATE", choices=[t.name for t in EventType],
                        help="the type of every event (default RATE, what MovieLens ratings are)")
    parser.add_argument("--query", default="", help="free text, tokenized by the server")
    parser.add_argument("--candidates", type=parse_ids, default=[], help="item ids to rank (default: the catalogue)")
    parser.add_argument("--top-k", type=int, default=10, help="items to return")
    parser.add_argument("--exclude-seen", action="store_true", help="leave out items already in --events")
    parser.add_argument("--model", default="", help="model name (default: the server's default model)")
    parser.add_argument("--explain", type=int, default=0, metavar="N",
                        help="print up to N events that raised each item's score (0 = off)")
    parser.add_argument("--timeout-ms", type=int, default=2000, help="per-attempt timeout")
    args = parser.parse_args()

    event_type = EventType[args.event_type]
    with FuseRankClient(args.endpoint, timeout_ms=args.timeout_ms) as client:
        try:
            result = client.rank(
                events=[Event(item, event_type) for item in args.events],
                query=args.query,
                candidates=args.candidates,
                top_k=args.top_k,
                exclude_seen=args.exclude_seen,
                model=args.model,
                explain_events=args.explain,
            )
            # Titles beside the ids (items.tsv), where the model has them.
            titles: dict[int, str] = {}
            if client.model_info(args.model).has_titles:
                ids = [item.item_id for item in result.items] + list(args.events)
                titles = {i.item_id: i.title for i in client.get_items(ids, args.model) if i.known}
        except FuseRankError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1

    def name(item_id: int) -> str:
        return f"{item_id} {titles[item_id]}" if item_id in titles else str(item_id)

    print(f"model {result.model} ({result.model_version})")
    print(f"{'rank':>4}  {'score':>9}  item")
    for position, item in enumerate(result.items, start=1):
        because = ", ".join(f"#{r.event_index} {name(args.events[r.event_index])} ({r.weight:+.3f})" for r in item.reasons)
        print(f"{position:>4}  {item.score:>9.4f}  {name(item.item_id)}" + (f"  because: {because}" if because else ""))
    if result.unknown_candidates:
        print(f"unknown candidates: {', '.join(map(str, result.unknown_candidates))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
