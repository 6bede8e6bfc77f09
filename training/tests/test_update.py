"""Stable item ids for `fuserank.update` (issue 24): the loader keeps a model's known ids."""

from __future__ import annotations

from fuserank.autoconfig import sniff_interactions
from fuserank.data import read_interactions

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def test_loader_keeps_known_ids_and_appends_new_ones(tmp_path) -> None:
    p = tmp_path / "new.csv"
    p.write_text(HEADER + "\n1,SKU005,A,1,2011-04-01 10:00,1,7,UK\n1,NEW-B,B,1,2011-04-01 10:00,1,7,UK\n"
                 "2,NEW-A,A,1,2011-04-02 10:00,1,7,UK\n2,SKU001,A,1,2011-04-02 10:00,1,7,UK\n")
    known = {"SKU001": 4, "SKU005": 9, "SKU007": 2}
    inter = read_interactions(**sniff_interactions(str(p)), known_items=known)
    assert [u.items for u in inter.users] == [[9, 11, 10, 4]]
    # known ids kept, new ones after the largest (9) in sorted order of the shop's ids
    assert inter.item_external == {4: "SKU001", 9: "SKU005", 2: "SKU007", 10: "NEW-A", 11: "NEW-B"}
    # a file whose ids all look like integers is matched as strings too (a shop's SKUs 71053, 22633)
    p.write_text(HEADER + "\n1,71053,A,1,2011-04-01 10:00,1,7,UK\n1,22633,B,1,2011-04-01 10:00,1,7,UK\n")
    inter = read_interactions(**sniff_interactions(str(p)), known_items={"71053": 1})
    assert inter.users[0].items == [1, 2] and inter.item_external == {1: "71053", 2: "22633"}
