#!/usr/bin/env python3
"""Writes the seed corpus of `make fuzz`: well-formed calls of every method (and a few malformed
ones) in the fuzzer's input format: byte 0 bit 0 = an empty delimiter follows the routing id,
then frames separated by the bytes F0 0F."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
from fuserank_client._proto import ranker_pb2 as pb  # noqa: E402

SEP = b"\xf0\x0f"


def call(method: str, body: bytes, request_id: int = 7, timeout_ms: int = 0) -> bytes:
    header = pb.RequestHeader(method=method, request_id=request_id, timeout_ms=timeout_ms)
    return b"\x01" + header.SerializeToString() + SEP + body


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rank = pb.RankRequest(top_k=5, query="sci-fi comedy", text_tokens=[2, 3], candidates=[135, 142, 9999])
    for item, kind in ((135, 1), (142, 6), (149, 2)):
        rank.events.add(item_id=item, type=kind, timestamp_ms=1_700_000_000_000, dwell_ms=5)
    rank.images.add().values.extend([0.5] * 6)
    forecast = pb.ForecastRequest(model="forecaster", horizon=14, quantiles=[0.05, 0.5, 0.95])
    forecast.series.add(item_id=85123, start_ms=1_291_161_600_000, values=[3.0, 0.0, float("nan"), 12.5, 1.0])
    forecast.series.add(item_id=-2, values=[1.0])
    seeds = {
        "rank": call("/fuserank.v1.Ranker/Rank", rank.SerializeToString()),
        "rank-catalogue": call("/fuserank.v1.Ranker/Rank", pb.RankRequest(events=[pb.Event(item_id=135)], exclude_seen=True, session_id="s1").SerializeToString()),
        "rank-model": call("/fuserank.v1.Ranker/Rank", pb.RankRequest(model="tiny", top_k=3).SerializeToString()),
        "forecast": call("/fuserank.v1.Ranker/Forecast", forecast.SerializeToString()),
        "forecast-default-model": call("/fuserank.v1.Ranker/Forecast", pb.ForecastRequest(
            series=[pb.SeriesHistory(values=[1.0, 2.0])], horizon=3).SerializeToString()),
        "forecast-no-horizon": call("/fuserank.v1.Ranker/Forecast", pb.ForecastRequest(
            model="forecaster", series=[pb.SeriesHistory(values=[1.0])]).SerializeToString()),
        "health": call("/fuserank.v1.Ranker/Health", b""),
        "info": call("/fuserank.v1.Ranker/GetModelInfo", pb.ModelInfoRequest(model="tiny").SerializeToString()),
        "reload": call("/fuserank.v1.Ranker/ReloadModels", b""),
        "unknown-method": call("/fuserank.v1.Ranker/Nope", b""),
        "no-delimiter": b"\x00" + pb.RequestHeader(method="/fuserank.v1.Ranker/Health").SerializeToString() + SEP,
        "three-frames": call("/fuserank.v1.Ranker/Health", b"") + SEP + b"extra",
        "garbage": b"\x01\xff\xff\xff" + SEP + b"\x0a\xff",
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    print(f"fuzz-seeds: wrote {len(seeds)} seeds to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
