#!/usr/bin/env python3
"""Builds the solution (or the projects given) and records public-API changes that the
PublicApiAnalyzers report: RS0016 adds the symbol to PublicAPI.Unshipped.txt, RS0017 removes it.
Usage: tests/tools/update-public-api.py [project-or-solution ...]   (repeat until the build is clean)"""
import collections, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
targets = sys.argv[1:] or [os.path.join(root, "Flannel.Net.sln")]
add = collections.defaultdict(set)
remove = collections.defaultdict(set)
for t in targets:
    out = subprocess.run(["dotnet", "build", t, "-nologo", "-clp:NoSummary"], capture_output=True, text=True, cwd=root).stdout
    for line in out.splitlines():
        m = re.search(r"error (RS001[67]): Symbol '(.*)' is (?:not part of the declared public API|part of the declared API, but is either not public or could not be found).*\[(.*\.csproj)\]", line)
        if m:
            proj_dir = os.path.dirname(m.group(3))
            (add if m.group(1) == "RS0016" else remove)[proj_dir].add(m.group(2))
for d, syms in add.items():
    p = os.path.join(d, "PublicAPI.Unshipped.txt")
    lines = open(p).read().splitlines() if os.path.exists(p) else ["#nullable enable"]
    lines = lines[:1] + sorted(set(lines[1:]) | syms)
    open(p, "w").write("\n".join(lines) + "\n")
    print(f"{p}: +{len(syms)}")
for d, syms in remove.items():
    for name in ("PublicAPI.Unshipped.txt", "PublicAPI.Shipped.txt"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            lines = open(p).read().splitlines()
            kept = [l for l in lines if l not in syms]
            open(p, "w").write("\n".join(kept) + "\n")
    print(f"{d}: -{len(syms)}")
if not add and not remove:
    print("public API files are up to date")
