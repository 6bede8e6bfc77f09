"""Another retailer's weekly sales as a long `item_id,timestamp,quantity` table: Dominick's Finer
Foods (a Chicago grocery chain), refrigerated orange juice, 83 stores x 11 brands, weeks 40-160
(1990-1992), as shipped in the `orangeJuice` data of the R package bayesm (Rossi, Allenby and
McCulloch, "Bayesian Statistics and Marketing", Wiley 2005), which Debian packages as
`r-cran-bayesm`.

`python -m fuserank.forecast.dominicks OUT.csv` downloads that Debian package (`apt-get download`,
no root needed), reads its `orangeJuice.rda` and writes one line per store x brand x week: item
`store{S}-{brand}`, the week's first day as an ISO date (Dominick's week 1 began on Thursday
1989-09-14: the Dominick's Data Manual, James M. Kilts Center, University of Chicago Booth School
of Business) and the units sold (`exp(logmove)`, rounded). Weeks the data does not list are
absent from the table, so they read as no sale (4% of store x brand weeks). The data's terms are
the Kilts Center's (research use); the table is written locally, never committed.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta

import numpy as np

BRANDS = ("tropicana-premium-64", "tropicana-premium-96", "floridas-natural-64", "tropicana-64",
          "minute-maid-64", "minute-maid-96", "citrus-hill-64", "tree-fresh-64", "florida-gold-64",
          "dominicks-64", "dominicks-128")
WEEK_1 = date(1989, 9, 14)


def read_orange_juice(workdir: str):
    subprocess.run(["apt-get", "download", "r-cran-bayesm"], cwd=workdir, check=True, capture_output=True)
    deb = glob.glob(os.path.join(workdir, "r-cran-bayesm_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(workdir, "x")], check=True)
    import rdata
    rda = glob.glob(os.path.join(workdir, "x", "usr", "lib", "R", "site-library", "bayesm", "data",
                                 "orangeJuice.rda"))[0]
    return rdata.read_rda(rda)["orangeJuice"]["yx"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m fuserank.forecast.dominicks OUT.csv", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        yx = read_orange_juice(tmp)
    lines = ["item_id,timestamp,quantity"]
    for store, brand, week, logmove in zip(yx["store"], yx["brand"], yx["week"], yx["logmove"]):
        day = WEEK_1 + timedelta(weeks=int(week) - 1)
        lines.append(f"store{int(store)}-{BRANDS[int(brand) - 1]},{day.isoformat()},{int(round(np.exp(logmove)))}")
    with open(argv[0], "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {argv[0]}: {len(lines) - 1:,} store x brand weeks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
