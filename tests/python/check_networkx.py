"""Loads apd/1 files with networkx.node_link_graph, as the format promises.

Usage: check_networkx.py FILE...   (a .md file: its first ```json block)
Checks, for each file, that the graph is a DiGraph with the file's nodes and
links, attributes intact, and that every column's counts sum to N.
"""
import json
import re
import sys

import networkx as nx


def load(path):
    text = open(path, encoding="utf-8").read()
    if path.endswith(".md"):
        text = re.search(r"```json\n(.*?)```", text, re.S).group(1)
    return json.loads(text)


def check(path):
    data = load(path)
    g = nx.node_link_graph(data)
    assert isinstance(g, nx.DiGraph) and not g.is_multigraph(), "not a DiGraph"
    assert g.number_of_nodes() == len(data["nodes"]), "node count"
    assert g.number_of_edges() == len(data["links"]), "link count"
    n = data["graph"]["instances"]
    assert g.graph["instances"] == n
    layers = data["graph"]["layers"]
    for column in range(1, layers + 2):
        total = sum(a["count"] for _, a in g.nodes(data=True) if a["layer"] == column)
        assert total == n, f"column {column}: {total} != {n}"
    for u, v, a in g.edges(data=True):
        assert g.nodes[v]["layer"] == g.nodes[u]["layer"] + 1
        assert 0 <= a["errors"] <= a["count"]
    assert nx.is_directed_acyclic_graph(g)
    print(f"{path}: networkx DiGraph with {g.number_of_nodes()} nodes, {g.number_of_edges()} edges: ok")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        check(p)
